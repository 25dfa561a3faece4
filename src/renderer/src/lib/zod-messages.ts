import { z } from 'zod';
import type { $ZodRawIssue } from 'zod/v4/core';

/**
 * The renderer's words for zod's default messages ("Too small: expected string to have >=1
 * characters", "expected number, received NaN" are not for operators). Installed once in main.tsx
 * with `z.config`; a message a schema spells out itself still wins (zod asks the schema first).
 */

type Issue = $ZodRawIssue;

/** What to enter, by form field name (the last key of the issue's path). */
const FIELD_NOUN: Readonly<Record<string, string>> = {
  name: 'a name',
  caName: 'a CA name',
  passphrase: 'a passphrase',
  passphraseConfirm: 'the passphrase again',
  p12Password: 'a password',
  p12Confirm: 'the password again',
  password: 'a password',
  listen: 'a listen address (HOST:PORT)',
  upstream: 'an upstream URL',
  hosts: 'a host',
  serial: 'a serial number',
  groups: 'a group',
  duration: 'a lifetime',
};

function fieldNoun(path: readonly PropertyKey[] | undefined): string | undefined {
  const key = [...(path ?? [])].reverse().find((k): k is string => typeof k === 'string');
  return key === undefined ? undefined : FIELD_NOUN[key];
}

const n = (v: number | bigint): string => Number(v).toLocaleString('en');
const plural = (v: number | bigint, one: string, many: string): string =>
  `${n(v)} ${Number(v) === 1 ? one : many}`;

/** The operator's message for an issue zod raised with its default text, or undefined for zod's own. */
export function humanMessage(issue: Issue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      const missing = issue.input === undefined || issue.input === null || issue.input === '';
      const nan = typeof issue.input === 'number' && Number.isNaN(issue.input);
      if (issue.expected === 'number' || issue.expected === 'int')
        return missing || nan ? 'Enter a number' : 'Enter a number (digits only)';
      if (missing) return `Enter ${fieldNoun(issue.path) ?? 'a value'}`;
      return 'This value has the wrong type';
    }
    case 'too_small': {
      const min = issue.minimum;
      if (issue.origin === 'string')
        return Number(min) <= 1
          ? `Enter ${fieldNoun(issue.path) ?? 'a value'}`
          : `Use at least ${plural(min, 'character', 'characters')}`;
      if (issue.origin === 'array' || issue.origin === 'set')
        return Number(min) <= 1
          ? `Add ${fieldNoun(issue.path) ?? 'at least one entry'}`
          : `Add at least ${plural(min, 'entry', 'entries')}`;
      if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint')
        return issue.inclusive === false ? `Enter more than ${n(min)}` : `Enter ${n(min)} or more`;
      if (issue.origin === 'date') return 'Choose a later date';
      return undefined;
    }
    case 'too_big': {
      const max = issue.maximum;
      if (issue.origin === 'string') return `Use at most ${plural(max, 'character', 'characters')}`;
      if (issue.origin === 'array' || issue.origin === 'set')
        return `Use at most ${plural(max, 'entry', 'entries')}`;
      if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint')
        return issue.inclusive === false ? `Enter less than ${n(max)}` : `Enter ${n(max)} or less`;
      if (issue.origin === 'date') return 'Choose an earlier date';
      return undefined;
    }
    case 'invalid_format':
      if (issue.format === 'url') return 'Enter a URL, e.g. http://127.0.0.1:8080';
      if (issue.format === 'email') return 'Enter an email address';
      return 'This is not in the expected format';
    case 'invalid_value':
      return issue.values.length <= 6
        ? `Choose one of: ${issue.values.map((v) => String(v)).join(', ')}`
        : 'Choose one of the offered values';
    case 'not_multiple_of':
      return `Enter a multiple of ${n(issue.divisor)}`;
    case 'unrecognized_keys':
      return `Unexpected field${issue.keys.length === 1 ? '' : 's'}: ${issue.keys.join(', ')}`;
    case 'invalid_union':
      return 'This value is not valid here';
    default:
      return undefined;
  }
}

/** Called once before the first render. */
export function installZodMessages(): void {
  z.config({ customError: humanMessage });
}
