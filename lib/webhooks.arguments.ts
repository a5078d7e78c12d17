import { WebhookArgumentError } from './webhooks.errors.js';
import { argumentHasUnknownField, argumentOfWrongType } from './webhooks.messages.js';

// Runtime checks of what application code passes to the public methods: TypeScript's types
// stop at the call site, and values often come from a request body, a queue message or config.
// Each check names the call and the argument, so the error says exactly what to fix. `emit`
// runs them on every call: a check that passes allocates nothing (the sites and rules are
// constants of their callers, and an error's text is made only when it is thrown).

/** Where a value came from: the call (`WebhookEndpoints.add`) and the argument (`input.url`). */
export interface ArgumentSite {
  call: string;
  argument: string;
}

/** What a string argument must be; `undefined` and `null` pass only when the rule says so. */
export interface StringRule {
  optional?: boolean;
  nullable?: boolean;
  nonEmpty?: boolean;
  maxLength?: number;
}

export const NON_EMPTY: StringRule = { nonEmpty: true };
export const NULLABLE: StringRule = { nullable: true };
export const ANY_STRING: StringRule = {};

const fail = (site: ArgumentSite, expected: string, value: unknown) =>
  new WebhookArgumentError(
    site.argument,
    argumentOfWrongType(site.call, site.argument, expected, value),
  );

const field = (site: ArgumentSite, name: string): ArgumentSite => ({
  call: site.call,
  argument: `${site.argument}.${name}`,
});

/**
 * `value` as an object of options or fields (`{}` when `optional` and not given), none of whose
 * keys is outside `known` (a misspelt field would otherwise be ignored without a word); a key
 * whose value is `undefined` says nothing, as class instances (a Nest `PartialType` DTO) own one
 * for every field they declare.
 */
export function checkFields(
  value: unknown,
  site: ArgumentSite,
  known: readonly string[],
  optional = false,
): Record<string, unknown> {
  if (value === undefined && optional) return EMPTY;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fail(site, `an object with ${known.map((name) => `'${name}'`).join(', ')}`, value);
  }
  const fields = value as Record<string, unknown>;
  // `for...in` rather than `Object.keys`: no array per call.
  for (const name in fields) {
    if (!Object.hasOwn(fields, name) || known.includes(name) || fields[name] === undefined) {
      continue;
    }
    throw new WebhookArgumentError(
      `${site.argument}.${name}`,
      argumentHasUnknownField(site.call, site.argument, name, known),
    );
  }
  return fields;
}

const EMPTY: Record<string, unknown> = Object.freeze({});

function passes(value: unknown, rule: StringRule): boolean {
  if (value === undefined) return rule.optional === true;
  if (value === null) return rule.nullable === true;
  if (typeof value !== 'string') return false;
  if (rule.nonEmpty && value === '') return false;
  return rule.maxLength === undefined || value.length <= rule.maxLength;
}

function expectedString(rule: StringRule): string {
  return (
    (rule.nonEmpty ? 'a non-empty string' : 'a string') +
    (rule.maxLength !== undefined ? ` of at most ${rule.maxLength} characters` : '') +
    (rule.nullable ? ' or null' : '')
  );
}

/** `value` checked to be a string as `rule` says. */
export function checkString(value: unknown, site: ArgumentSite, rule: StringRule): void {
  if (!passes(value, rule)) throw fail(site, expectedString(rule), value);
}

/** An id: a non-empty string. */
export function checkId(value: unknown, site: ArgumentSite): asserts value is string {
  checkString(value, site, NON_EMPTY);
}

/** `fields[name]`, unless left out, checked to be a string as `rule` says. */
export function checkStringField(
  fields: Record<string, unknown>,
  name: string,
  site: ArgumentSite,
  rule: StringRule,
): void {
  const value = fields[name];
  if (value !== undefined && !passes(value, rule)) {
    throw fail(field(site, name), expectedString(rule), value);
  }
}

/** `fields[name]`, which must be given, checked to be a string as `rule` says. */
export function requireStringField(
  fields: Record<string, unknown>,
  name: string,
  site: ArgumentSite,
  rule: StringRule,
): void {
  checkString(fields[name], field(site, name), rule);
}

/** A field that is `true`, `false` or left out: never the string `'false'`, which is truthy. */
export function checkBooleanField(
  fields: Record<string, unknown>,
  name: string,
  site: ArgumentSite,
): void {
  const value = fields[name];
  if (value !== undefined && typeof value !== 'boolean') {
    throw fail(field(site, name), 'true or false', value);
  }
}

/** A field that is one of `allowed` or left out. */
export function checkChoiceField(
  fields: Record<string, unknown>,
  name: string,
  site: ArgumentSite,
  allowed: readonly string[],
): void {
  const value = fields[name];
  if (value !== undefined && !allowed.includes(value as string)) {
    throw fail(field(site, name), `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
}

/** A field that is a non-empty array of non-empty strings (left out only when `optional`). */
export function checkNamesField(
  fields: Record<string, unknown>,
  name: string,
  site: ArgumentSite,
  optional: boolean,
): void {
  const value = fields[name];
  if (value === undefined && optional) return;
  const expected = "a non-empty array of webhook names, e.g. ['new-subscription']";
  if (!Array.isArray(value) || value.length === 0) throw fail(field(site, name), expected, value);
  value.forEach((item, index) => checkString(item, field(site, `${name}[${index}]`), NON_EMPTY));
}

/** A field that is a whole number of at least `min`, `Infinity`, or left out. */
export function checkLimitField(
  fields: Record<string, unknown>,
  name: string,
  site: ArgumentSite,
  min: number,
): void {
  const value = fields[name];
  if (value === undefined || value === Infinity) return;
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw fail(field(site, name), `a whole number of at least ${min}, or Infinity`, value);
  }
}
