/**
 * Help text that states every option's default: commander prints
 * `(default: x)` only for options given a default value, so options without
 * one would leave the reader guessing whether they are required, off, or
 * taken from the configuration. Installed on the program in cli.ts; applies
 * to every command.
 */
import { Help, type Option } from 'commander';

/**
 * The help configuration for commander's `configureHelp`: the usual option
 * description plus `(required)`, `(default: none)` for a value option
 * without a default, or `(default: off)` for a flag, unless the description
 * already says what the default is.
 */
export const helpWithDefaults: Partial<Help> = {
  optionDescription(this: Help, option: Option): string {
    const base = Help.prototype.optionDescription.call(this, option);
    const takesValue = option.required || option.optional;
    // A flag's default as commander prints it (false/true) in the words of the others (off/on).
    if (!takesValue && /\(default: (false|true)\)$/.test(base)) {
      return base.replace(
        /\(default: (false|true)\)$/,
        (_m, v) => `(default: ${v === 'true' ? 'on' : 'off'})`,
      );
    }
    if (/\bdefault\b|\brequired\b/i.test(base)) return base;
    if (option.mandatory) return `${base} (required)`;
    if (option.negate) return `${base} (default: on)`;
    if (option.long === '--help' || option.long === '--version') return base;
    return `${base} (default: ${takesValue ? 'none' : 'off'})`;
  },
};
