import { interfaceCapacity } from "./capacity.ts";
import type { VmiInput } from "./input.ts";
import { normalize } from "./normalize.ts";
import type { FieldError, ValidationResult } from "./result.ts";
import { checkRules } from "./rules.ts";
import { checkSchema } from "./schema.ts";
import { ignoredFieldWarnings } from "./treatments.ts";
import type { Vmi } from "./types.ts";
import { checkImmutable } from "./update.ts";

/**
 * Validates a parsed document as a new VMI: the schema first, then the rules
 * (which rely on the shape the schema guarantees, so they run only after it passed).
 */
export function validateVmi(doc: unknown): ValidationResult {
  const schemaErrors = checkSchema(doc);
  if (schemaErrors.length > 0) return invalid(schemaErrors);
  const input = doc as VmiInput;
  const ruleErrors = checkRules(input);
  if (ruleErrors.length > 0) return invalid(ruleErrors);
  const vmi = normalize(input);
  const warnings = ignoredFieldWarnings(doc as Record<string, unknown>);
  return { valid: true, errors: [], warnings, capacity: interfaceCapacity(vmi), vmi };
}

/**
 * Validates a document that replaces `stored` (a VMI this package normalized
 * earlier): everything validateVmi checks, then immutability. Interfaces and
 * networks may be added or removed, and labels may change; everything else
 * must stay as it was.
 */
export function validateUpdate(stored: Vmi, doc: unknown): ValidationResult {
  const result = validateVmi(doc);
  if (!result.valid || result.vmi === null) return result;
  const errors = checkImmutable(stored, result.vmi);
  return errors.length > 0 ? invalid(errors) : result;
}

function invalid(errors: FieldError[]): ValidationResult {
  return { valid: false, errors, warnings: [], capacity: null, vmi: null };
}
