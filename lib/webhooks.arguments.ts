import { WebhookArgumentError } from './webhooks.errors.js';
import { argumentHasUnknownField, argumentOfWrongType } from './webhooks.messages.js';

// Runtime checks of what application code passes to the public methods: TypeScript's types
// stop at the call site, and values often come from a request body, a queue message or config.
// Each check names the call and the argument, so the error says exactly what to fix.

/** Where a value came from: the call (`WebhookEndpoints.add`) and the argument (`input.url`). */
export interface ArgumentSite {
  call: string;
  argument: string;
}

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
 * `value` as an object of options or fields (`undefined` when `optional` and not given), whose
 * keys are all in `known`: a misspelt field would otherwise be ignored without a word.
 */
export function checkFields(
  value: unknown,
  site: ArgumentSite,
  known: readonly string[],
  { optional = false } = {},
): Record<string, unknown> {
  if (value === undefined && optional) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fail(site, `an object with ${known.map((name) => `'${name}'`).join(', ')}`, value);
  }
  for (const name of Object.keys(value)) {
    if (!known.includes(name)) {
      throw new WebhookArgumentError(
        `${site.argument}.${name}`,
        argumentHasUnknownField(site.call, site.argument, name, known),
      );
    }
  }
  return value as Record<string, unknown>;
}

interface StringRule {
  /** `undefined` passes. */
  optional?: boolean;
  /** `null` passes. */
  nullable?: boolean;
  /** Refuses `''`. */
  nonEmpty?: boolean;
  maxLength?: number;
}

/** `fields[name]` (or `value` itself, with no name) checked to be a string as `rule` says. */
export function checkString(value: unknown, site: ArgumentSite, rule: StringRule = {}): void {
  if (value === undefined && rule.optional) return;
  if (value === null && rule.nullable) return;
  const expected =
    (rule.nonEmpty ? 'a non-empty string' : 'a string') +
    (rule.maxLength !== undefined ? ` of at most ${rule.maxLength} characters` : '') +
    (rule.nullable ? ' or null' : '');
  if (typeof value !== 'string') throw fail(site, expected, value);
  if (rule.nonEmpty && value === '') throw fail(site, expected, value);
  if (rule.maxLength !== undefined && value.length > rule.maxLength) {
    throw fail(site, expected, value);
  }
}

/** An id: a non-empty string. */
export function checkId(value: unknown, site: ArgumentSite): asserts value is string {
  checkString(value, site, { nonEmpty: true });
}

/** A field of an object checked by `checkFields`, as a string. */
export function checkStringField(
  fields: Record<string, unknown>,
  name: string,
  site: ArgumentSite,
  rule: StringRule = {},
): void {
  checkString(fields[name], field(site, name), { optional: true, ...rule });
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

/** A field that is a non-empty array of non-empty strings, or left out. */
export function checkNamesField(
  fields: Record<string, unknown>,
  name: string,
  site: ArgumentSite,
  { optional = false } = {},
): void {
  const value = fields[name];
  if (value === undefined && optional) return;
  const expected = "a non-empty array of webhook names, e.g. ['new-subscription']";
  if (!Array.isArray(value) || value.length === 0) throw fail(field(site, name), expected, value);
  value.forEach((item, index) =>
    checkString(item, field(site, `${name}[${index}]`), { nonEmpty: true }),
  );
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
