/** Argument checks shared by the public API: each throws a message naming the value. */

/** The largest value a wasm32 size or pointer argument can hold. */
export const U32_MAX = 0xFFFF_FFFF;

/**
 * Renders a bad value for an error message as it would be written: numbers plainly, BigInts with
 * their `n`, strings quoted, others by type (an array as such).
 */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return "an array";
  return value === null ? "null" : typeof value;
}

/** Checks that `value` is an options object (not null, not an array), as the argument `what`. */
export function checkOptions<T extends object>(value: unknown, what: string): T {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object, got ${describe(value)}`);
  }
  return value as T;
}

/** Checks that `value` is a boolean, as the option called `what`. */
export function checkBoolean(value: unknown, what: string): boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(`${what} must be true or false, got ${describe(value)}`);
  }
  return value;
}

/**
 * Checks that `value` is an integer from `min` to `max`, as the argument called `what`.
 * A non-number is a TypeError; a number out of range or fractional is a RangeError. A `max` of
 * `Number.MAX_SAFE_INTEGER` is no bound but the safe integers': the message says "of at least".
 */
export function checkInteger(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== "number") {
    throw new TypeError(`${what} must be a number, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new RangeError(`${what} must be an integer ${range}, got ${describe(value)}`);
  }
  return value;
}

/** Checks a byte count or an address that the wasm takes as a u32. */
export function checkSize(value: unknown, what = "Size"): number {
  return isSize(value) ? value : checkInteger(value, what, 0, U32_MAX);
}

/** Whether `value` is an integer from 0 to 2^32 - 1: a number that is its own u32. */
export function isSize(value: unknown): value is number {
  return typeof value === "number" && value >>> 0 === value;
}

/** Checks an alignment: a power of two from 1 to `max` (at most 2^30), named `what`. */
export function checkAlignment(value: unknown, max: number, what = "Alignment"): number {
  if (typeof value !== "number") {
    throw new TypeError(`${what} must be a number, got ${describe(value)}`);
  }
  if (!(value >= 1 && value <= max && Number.isInteger(value) && (value & (value - 1)) === 0)) {
    throw new RangeError(
      `${what} must be a power of two from 1 to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * A check of one option's value, given its name; it throws naming both when the value is bad,
 * its message ending `, got VALUE` (a command line puts the value as typed there).
 */
export type OptionCheck = (value: unknown, name: string) => unknown;

/** An integer from `min` to `max`, as an option's check. */
export const integerFrom =
  (min: number, max = Number.MAX_SAFE_INTEGER): OptionCheck => (value, name) =>
    checkInteger(value, name, min, max);

/** A finite number of at least `min`, as an option's check. */
export const numberFrom = (min: number): OptionCheck => (value, name) => {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  }
  if (!(value >= min && value < Infinity)) {
    throw new RangeError(`${name} must be a number of at least ${min}, got ${describe(value)}`);
  }
};

/** One of `choices`, as an option's check. */
export const oneOf = (...choices: unknown[]): OptionCheck => (value, name) => {
  if (!choices.includes(value)) {
    throw new TypeError(
      `${name} must be ${choices.map(describe).join(" or ")}, got ${describe(value)}`,
    );
  }
};

/** A value of JavaScript type `type`, as an option's check. */
export const ofType = (type: "string" | "function"): OptionCheck => (value, name) => {
  if (type === "string" ? typeof value !== "string" : typeof value !== "function") {
    throw new TypeError(`${name} must be a ${type}, got ${describe(value)}`);
  }
};

/** A WebAssembly.Module, as an option's check. */
export const aModule: OptionCheck = (value, name) => {
  if (!(value instanceof WebAssembly.Module)) {
    throw new TypeError(`${name} must be a WebAssembly.Module, got ${describe(value)}`);
  }
};

/**
 * Checks an options object and each of its fields that `checks` names and it gives (undefined
 * is absent): the one way the API's functions check their options.
 */
export function checkFields<T extends object>(
  options: unknown,
  checks: Record<string, OptionCheck>,
): T {
  const given = checkOptions<Record<string, unknown>>(options, "Options");
  for (const [name, check] of Object.entries(checks)) {
    if (given[name] !== undefined) check(given[name], name);
  }
  return given as T;
}
