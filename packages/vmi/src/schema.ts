import { readFileSync } from "node:fs";
import type { AnySchemaObject, ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import { child, formatPath, isObject, pointerSegments } from "./field-path.ts";
import type { FieldError } from "./result.ts";
import { refusalOf, treatmentKey } from "./treatments.ts";
import { describeValue, show } from "./words.ts";

/** Where the schema lives in the repository: schemas/vmi.schema.json. */
export const VMI_SCHEMA_URL = new URL("../../../schemas/vmi.schema.json", import.meta.url);

export const vmiSchema: AnySchemaObject = JSON.parse(readFileSync(VMI_SCHEMA_URL, "utf8"));

/** A document with more schema errors than this gets the first ones and a count of the rest. */
export const MAX_REPORTED_ERRORS = 50;

let compiled: ValidateFunction | undefined;

/**
 * The schema's validator, compiled at first use rather than at import: the
 * compile takes a few hundred milliseconds that CLI commands which never
 * validate should not pay. allErrors reports every problem at once; the caller
 * bounds the document size, and list lengths are bounded by the schema.
 * verbose gives each error its parent schema, whose description names what a
 * pattern expects.
 */
function schemaValidator(): ValidateFunction {
  compiled ??= new Ajv2020({
    allErrors: true,
    verbose: true,
    strict: true,
    allowUnionTypes: true,
  }).compile(vmiSchema);
  return compiled;
}

/** Checks the document against the schema; errors name field paths in plain words. */
export function checkSchema(document: unknown): FieldError[] {
  const validateSchema = schemaValidator();
  if (validateSchema(document)) return [];
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const error of validateSchema.errors ?? []) {
    const described = describe(document, error);
    // One message per field: a failed pattern and a failed length say the same thing.
    if (described === null || seen.has(described.field)) continue;
    seen.add(described.field);
    errors.push(described);
  }
  if (errors.length > MAX_REPORTED_ERRORS) {
    const rest = errors.length - MAX_REPORTED_ERRORS;
    return [
      ...errors.slice(0, MAX_REPORTED_ERRORS),
      { field: "", message: `and ${rest} more errors not shown` },
    ];
  }
  return errors;
}

function describe(document: unknown, error: ErrorObject): FieldError | null {
  const at = formatPath(pointerSegments(document, error.instancePath));
  const name = at === "" ? "the document" : at;
  const parent = error.parentSchema ?? {};
  const params = error.params;

  switch (error.keyword) {
    case "false schema":
      return {
        field: at,
        message: `${name} is refused: ${refusalOf(treatmentKey(pointerSegments(document, error.instancePath)))}`,
      };
    case "additionalProperties": {
      const field = child(at, params.additionalProperty);
      return { field, message: `${field} is not a known field${knownFields(parent)}` };
    }
    case "required": {
      const field = child(at, params.missingProperty);
      return { field, message: `${field} is required` };
    }
    case "type":
      return {
        field: at,
        message: `${name} must be ${typeWords(params.type)}, not ${describeValue(error.data)}`,
      };
    case "const":
      return {
        field: at,
        message: `${name} must be ${show(params.allowedValue)}${got(error.data)}`,
      };
    case "enum": {
      const allowed: unknown[] = params.allowedValues;
      const expected =
        allowed.length === 1
          ? show(allowed[0])
          : `one of: ${allowed.map((v) => show(v)).join(", ")}`;
      return { field: at, message: `${name} must be ${expected}${got(error.data)}` };
    }
    case "minimum":
    case "maximum":
      return {
        field: at,
        message: `${name} must be between ${parent.minimum} and ${parent.maximum}${got(error.data)}`,
      };
    case "maxItems":
      return {
        field: at,
        message: `${name} has ${countOf(error.data)} entries; at most ${params.limit} are allowed`,
      };
    case "maxProperties":
      return {
        field: at,
        message: `${name} has ${countOf(error.data)} entries; at most ${params.limit} are allowed`,
      };
    case "propertyNames":
      // The nested error carrying propertyName says it better.
      return null;
    case "pattern":
    case "maxLength":
    case "minLength": {
      if (error.propertyName !== undefined) {
        const field = child(at, error.propertyName);
        const key = show(error.propertyName);
        return {
          field,
          message: `${field}: ${key} is not a valid key; it must be ${parent.description}`,
        };
      }
      const expected = parent.description ?? error.message ?? "a valid value";
      return { field: at, message: `${name} must be ${expected}${got(error.data)}` };
    }
    default:
      return { field: at, message: `${name} ${error.message ?? "is invalid"}` };
  }
}

function knownFields(parent: AnySchemaObject): string {
  const properties = isObject(parent.properties) ? parent.properties : {};
  const known = Object.keys(properties).filter((key) => properties[key] !== false);
  if (known.length === 0) return " (this object takes no fields)";
  return ` (headroom knows: ${known.join(", ")})`;
}

function typeWords(type: string | string[]): string {
  const words: Record<string, string> = {
    string: "a string",
    number: "a number",
    integer: "an integer",
    object: "an object",
    array: "a list",
    boolean: "true or false",
    null: "null",
  };
  const types = Array.isArray(type) ? type : [type];
  return types.map((t) => words[t] ?? t).join(" or ");
}

function got(value: unknown): string {
  return isObject(value) || Array.isArray(value) ? "" : ` (got ${show(value)})`;
}

function countOf(value: unknown): number {
  if (Array.isArray(value)) return value.length;
  return isObject(value) ? Object.keys(value).length : 0;
}
