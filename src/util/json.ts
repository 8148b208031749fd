import { fail } from './errors.js';
import { LIMITS } from './limits.js';

/**
 * JSON from files (safetensors headers, model.json, golden manifests, model metadata): nesting depth is
 * checked in one linear pass before JSON.parse sees the text, since a header nested millions deep makes
 * JSON.parse take gigabytes.
 */
export function parseJsonBounded(text: string, label: string, what = 'JSON'): unknown {
  let depth = 0;
  let inString = false;
  const max = LIMITS.jsonDepth;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) fail('format', `${label}: ${what} is nested deeper than ${max} levels (--budget json-depth)`);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  try {
    return JSON.parse(text);
  } catch {
    return fail('format', `${label}: ${what} is not valid JSON`);
  }
}
