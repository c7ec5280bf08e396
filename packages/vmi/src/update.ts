/**
 * Immutability of an accepted VMI. What may change: labels, annotations, and the set of
 * interfaces with their networks (added or removed as pairs, to be hot-plugged).
 * Everything else stays as first accepted; quantities compare by value, so
 * "1Gi" may be re-applied as "1024Mi".
 */
import { isDeepStrictEqual } from "node:util";
import { parseQuantity, quantitiesEqual } from "@headroom/quantity";
import { INTERFACE_RESOURCE, interfaceRequestValue } from "./capacity.ts";
import { child, isObject } from "./field-path.ts";
import type { FieldError } from "./result.ts";
import { DEFAULT_TERMINATION_GRACE_SECONDS } from "./rules.ts";
import type { Vmi } from "./types.ts";
import { show } from "./words.ts";

const INTERFACE_REQUEST_FIELD = child("spec.domain.resources.requests", INTERFACE_RESOURCE);

/** Keys whose values are quantities: they are equal when their values are, however written. */
const QUANTITY_KEYS = new Set(["guest", "memory", "capacity"]);

/** Both VMIs are normalized and valid. */
export function checkImmutable(stored: Vmi, next: Vmi): FieldError[] {
  const errors: FieldError[] = [];
  diff(stored.metadata.namespace, next.metadata.namespace, "metadata.namespace", errors);
  diff(stored.metadata.name, next.metadata.name, "metadata.name", errors);
  errors.push(...checkInterfaceRequest(stored, next));
  errors.push(...checkAddedBootOrders(stored, next));
  errors.push(
    ...checkKeptEntries(
      "spec.domain.devices.interfaces",
      stored.spec.domain.devices.interfaces,
      next.spec.domain.devices.interfaces,
    ),
  );
  errors.push(...checkKeptEntries("spec.networks", stored.spec.networks, next.spec.networks));
  diff(fixedPart(stored), fixedPart(next), "spec", errors);
  return errors;
}

function checkInterfaceRequest(stored: Vmi, next: Vmi): FieldError[] {
  const before = requestOf(stored);
  const after = requestOf(next);
  if (before === after) return [];
  const field = INTERFACE_REQUEST_FIELD;
  let message: string;
  if (before === null) {
    message = `${field} is immutable: the VMI was created without it, so it cannot be added`;
  } else if (after === null) {
    message = `${field} is immutable: it is ${before} and cannot be removed`;
  } else {
    message = `${field} is immutable: it is ${before} and cannot change to ${after}`;
  }
  return [{ field, message }];
}

function requestOf(vmi: Vmi): number | null {
  const raw = vmi.spec.domain.resources?.requests?.[INTERFACE_RESOURCE];
  return raw === undefined ? null : interfaceRequestValue(raw);
}

/** libvirt fixes the boot order when a domain starts: a hot-plugged NIC cannot join it. */
function checkAddedBootOrders(stored: Vmi, next: Vmi): FieldError[] {
  const before = new Set(stored.spec.domain.devices.interfaces.map((iface) => iface.name));
  const errors: FieldError[] = [];
  next.spec.domain.devices.interfaces.forEach((iface, index) => {
    if (before.has(iface.name) || iface.bootOrder === undefined) return;
    const field = `spec.domain.devices.interfaces[${index}].bootOrder`;
    errors.push({
      field,
      message: `${field}: the boot order is fixed when the VMI starts, so an interface added later cannot have one`,
    });
  });
  return errors;
}

/** Entries may come and go, but one that stays (by name) stays as it was. */
function checkKeptEntries(
  list: string,
  stored: readonly { name: string }[],
  next: readonly { name: string }[],
): FieldError[] {
  const storedByName = new Map(stored.map((entry) => [entry.name, entry]));
  const errors: FieldError[] = [];
  next.forEach((entry, index) => {
    const before = storedByName.get(entry.name);
    if (before === undefined || isDeepStrictEqual(before, entry)) return;
    const field = `${list}[${index}]`;
    errors.push({
      field,
      message: `${field} (${show(entry.name)}) cannot change in place; remove it in one update and add it back in another`,
    });
  });
  return errors;
}

/** The spec without what checkInterfaceRequest and checkKeptEntries look after. */
function fixedPart(vmi: Vmi): unknown {
  const { networks: _networks, domain, ...rest } = vmi.spec;
  const { interfaces: _interfaces, ...devices } = domain.devices;
  // Domain first, so errors come in the order the document reads. A VMI
  // stored by an earlier headroom has no grace period: it had the default.
  return {
    domain: { ...domain, devices, resources: fixedResources(vmi) },
    ...rest,
    terminationGracePeriodSeconds:
      rest.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS,
  };
}

/** Resources without the interface request; absent maps count as empty. */
function fixedResources(vmi: Vmi): unknown {
  const { requests = {}, limits = {} } = vmi.spec.domain.resources ?? {};
  const { [INTERFACE_RESOURCE]: _request, ...otherRequests } = requests;
  return { requests: otherRequests, limits };
}

function diff(before: unknown, after: unknown, path: string, errors: FieldError[]): void {
  if (isObject(before) && isObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const key of keys) diff(before[key], after[key], child(path, key), errors);
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    if (before.length !== after.length) {
      errors.push({
        field: path,
        message: `${path} is immutable (${before.length} entries before, ${after.length} now)`,
      });
      return;
    }
    before.forEach((item, index) => {
      diff(item, after[index], child(path, index), errors);
    });
    return;
  }
  if (isDeepStrictEqual(before, after) || sameQuantity(before, after, path)) return;
  errors.push({ field: path, message: `${path} is immutable (${change(before, after)})` });
}

function sameQuantity(before: unknown, after: unknown, path: string): boolean {
  const key = path.slice(path.lastIndexOf(".") + 1);
  if (!QUANTITY_KEYS.has(key)) return false;
  const a = parseQuantity(before);
  const b = parseQuantity(after);
  return a.ok && b.ok && quantitiesEqual(a.value, b.value);
}

function change(before: unknown, after: unknown): string {
  if (before === undefined) return `it was not set, now ${show(after)}`;
  if (after === undefined) return `it was ${show(before)} and cannot be removed`;
  return `was ${show(before)}, now ${show(after)}`;
}
