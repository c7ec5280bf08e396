/** Small helpers over @xmldom/xmldom: strict parsing, typed element building, indentation. */
import {
  DOMImplementation,
  DOMParser,
  type Document,
  type Element,
  type Node,
  XMLSerializer,
} from "@xmldom/xmldom";

/** Domain XML that cannot be read. */
export class DomainXmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DomainXmlError";
  }
}

/** An element described by values; the library escapes every attribute and text. */
export interface XElement {
  tag: string;
  attrs?: Record<string, string | undefined>;
  children?: XElement[];
  text?: string;
}

const INDENT = "  ";
const ELEMENT_NODE = 1;
const TEXT_NODE = 3;

export function parseXml(xml: string, what = "domain XML"): Document {
  if (typeof xml !== "string" || xml.trim() === "") throw new DomainXmlError(`${what} is empty`);
  // xmldom wraps what onError throws; keep its own words for the message.
  let problem: string | undefined;
  const parser = new DOMParser({
    onError: (level, message) => {
      if (level === "warning") return;
      problem ??= message;
      throw new Error(message);
    },
  });
  try {
    return parser.parseFromString(xml, "text/xml");
  } catch (e) {
    throw new DomainXmlError(`${what} is not well-formed: ${problem ?? (e as Error).message}`);
  }
}

export function parseDomain(xml: string): { doc: Document; domain: Element } {
  const doc = parseXml(xml);
  const domain = doc.documentElement;
  if (domain?.tagName !== "domain")
    throw new DomainXmlError(`domain XML must have <domain> as its root element`);
  return { doc, domain };
}

export function serialize(doc: Document | Node): string {
  return new XMLSerializer().serializeToString(doc);
}

export function newDocument(root: XElement): Document {
  const doc = new DOMImplementation().createDocument(null, root.tag, null);
  const el = doc.documentElement as Element;
  fill(doc, el, root, 0);
  return doc;
}

/** Creates `node` in `doc`, indented as if it sat at `depth`. */
export function buildElement(doc: Document, node: XElement, depth: number): Element {
  const el = doc.createElement(node.tag);
  fill(doc, el, node, depth);
  return el;
}

function fill(doc: Document, el: Element, node: XElement, depth: number): void {
  for (const [name, value] of Object.entries(node.attrs ?? {})) {
    if (value !== undefined) el.setAttribute(name, value);
  }
  if (node.text !== undefined) el.appendChild(doc.createTextNode(node.text));
  const children = node.children ?? [];
  for (const child of children) {
    el.appendChild(doc.createTextNode(`\n${INDENT.repeat(depth + 1)}`));
    el.appendChild(buildElement(doc, child, depth + 1));
  }
  if (children.length > 0) el.appendChild(doc.createTextNode(`\n${INDENT.repeat(depth)}`));
}

export function childElements(parent: Element, tag?: string): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === ELEMENT_NODE && (tag === undefined || (n as Element).tagName === tag))
      out.push(n as Element);
  }
  return out;
}

export function firstChild(parent: Element, tag: string): Element | undefined {
  return childElements(parent, tag)[0];
}

/** The `<devices>` element of a `<domain>`. */
export function devicesOf(domain: Element): Element {
  const devices = firstChild(domain, "devices");
  if (!devices) throw new DomainXmlError("domain XML has no <devices> element");
  return devices;
}

function isBlankText(n: Node | null): n is Node {
  return n !== null && n.nodeType === TEXT_NODE && (n.nodeValue ?? "").trim() === "";
}

/** Nesting depth of `el` below the document root (libvirt indents by two spaces a level). */
function depthOf(el: Element): number {
  let depth = 0;
  for (let p = el.parentNode; p && p.nodeType === ELEMENT_NODE; p = p.parentNode) depth++;
  return depth;
}

/** Appends `node` as the last child element of `parent`, keeping the indentation style. */
export function appendChildElement(parent: Element, node: XElement): Element {
  const doc = parent.ownerDocument as Document;
  const depth = depthOf(parent);
  const el = buildElement(doc, node, depth + 1);
  const last = parent.lastChild;
  const before = doc.createTextNode(`\n${INDENT.repeat(depth + 1)}`);
  if (isBlankText(last)) {
    parent.insertBefore(before, last);
    parent.insertBefore(el, last);
  } else {
    parent.appendChild(before);
    parent.appendChild(el);
    parent.appendChild(doc.createTextNode(`\n${INDENT.repeat(depth)}`));
  }
  return el;
}

/** Removes `el` and the indentation in front of it. */
export function removeElement(el: Element): void {
  const parent = el.parentNode;
  if (!parent) return;
  const prev = el.previousSibling;
  if (isBlankText(prev)) parent.removeChild(prev);
  parent.removeChild(el);
}
