/**
 * The redactor's second line of defence: what looks sensitive whatever the session knows —
 * e-mail addresses, card numbers and phone numbers in free text. Each is a hand-written scanner
 * that reads every character a bounded number of times, so its cost is linear in the text
 * whatever the text holds (a regular expression for these backtracks: seconds for 100 KB).
 */
import { isDigit, isWordChar, type Spans } from './scan.js';

/** `[A-Za-z0-9._%+-]`: a character of an address's local part. */
function isLocalChar(c: number): boolean {
  return isDomainChar(c) || c === 95 || c === 37 || c === 43;
}

/** `[A-Za-z0-9.-]`: a character of an address's domain. */
function isDomainChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 45;
}

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * E-mail addresses: what `/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g` matches, found
 * from each `@` outwards. Neither side of one `@` can hold another, so each character is read
 * at most twice.
 */
export function markEmails(text: string, spans: Spans): void {
  let at = text.indexOf('@');
  let lastEnd = 0;
  while (at >= 0) {
    let start = at;
    while (start > lastEnd && isLocalChar(text.charCodeAt(start - 1))) start--;
    let domainEnd = at + 1;
    while (domainEnd < text.length && isDomainChar(text.charCodeAt(domainEnd))) domainEnd++;
    // The last dot of the domain (not its first character) followed by two letters or more.
    let end = -1;
    for (let d = domainEnd - 3; d > at + 1; d--) {
      if (text.charCodeAt(d) === 46 && isAsciiLetter(text.charCodeAt(d + 1)) && isAsciiLetter(text.charCodeAt(d + 2))) {
        end = d + 3;
        while (end < domainEnd && isAsciiLetter(text.charCodeAt(end))) end++;
        break;
      }
    }
    if (start < at && end > 0) {
      spans.mark(start, end);
      lastEnd = end;
    }
    at = text.indexOf('@', Math.max(at + 1, lastEnd));
  }
}

const PHONE_MIN = 10;
const PHONE_MAX = 15;

/** A text's maximal digit runs, in order: starts and ends (exclusive). */
export interface DigitGroups {
  count: number;
  start: Int32Array;
  end: Int32Array;
}

/**
 * The digit runs of a text (the card and phone scanners share them), or undefined when the
 * text has too few digits for either. Counted first, then stored in typed arrays of that
 * size: an array grown run by run costs several times more per run on a long text.
 */
export function digitGroups(text: string): DigitGroups | undefined {
  let digits = 0;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    if (!isDigit(text.charCodeAt(i))) continue;
    digits++;
    if (i === 0 || !isDigit(text.charCodeAt(i - 1))) count++;
  }
  if (digits < PHONE_MIN) return undefined;
  const start = new Int32Array(count);
  const end = new Int32Array(count);
  let g = 0;
  let i = 0;
  while (i < text.length) {
    if (!isDigit(text.charCodeAt(i))) {
      i++;
      continue;
    }
    start[g] = i;
    while (i < text.length && isDigit(text.charCodeAt(i))) i++;
    end[g++] = i;
  }
  return { count, start, end };
}

const PAN_MIN = 13;
const PAN_MAX = 19;
/** Luhn's doubled digit: 2d, less 9 when that has two digits. */
const DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];

/**
 * Card numbers: 13–19 digits passing Luhn, written together or in groups joined by one space
 * or dash, made of whole digit runs (never part of a longer run). Within a longer sequence of
 * groups (a card followed by more numbers) every range of whole groups is tried: from each
 * group, the ranges end within its next 19 digits, their Luhn sums kept as they grow.
 */
export function markCardNumbers(text: string, groups: DigitGroups, spans: Spans): void {
  const { count, start, end } = groups;
  const fits = (g: number) => end[g]! - start[g]! <= PAN_MAX;
  let g = 0;
  while (g < count) {
    if (!fits(g)) {
      g++;
      continue;
    }
    // The sequence of groups joined by one space or dash from group g (a longer group, never
    // part of a card number, ends it).
    let last = g;
    while (last + 1 < count && start[last + 1]! - end[last]! === 1 && isCardJoiner(text.charCodeAt(end[last]!)) && fits(last + 1)) last++;
    markCardsInSequence(text, groups, g, last, spans);
    g = last + 1;
  }
}

function isCardJoiner(c: number): boolean {
  return c === 32 || c === 45;
}

function markCardsInSequence(text: string, { start, end }: DigitGroups, first: number, last: number, spans: Spans): void {
  let runStart = -1;
  let runEnd = -1;
  for (let a = first; a <= last; a++) {
    // The longest range of whole groups from group a that is a card number. Digits are
    // counted from a; Luhn doubles every other digit counted from the range's last, so both
    // sums are kept: doubling the even-counted digits, and doubling the odd-counted ones.
    let found = -1;
    let digits = 0;
    let evenDoubled = 0;
    let oddDoubled = 0;
    for (let b = a; b <= last && digits + end[b]! - start[b]! <= PAN_MAX; b++) {
      for (let i = start[b]!; i < end[b]!; i++, digits++) {
        const d = text.charCodeAt(i) - 48;
        if (digits % 2 === 0) {
          evenDoubled += DOUBLED[d]!;
          oddDoubled += d;
        } else {
          evenDoubled += d;
          oddDoubled += DOUBLED[d]!;
        }
      }
      // The range's last digit is not doubled: the doubled ones are counted with the other parity.
      if (digits >= PAN_MIN && ((digits - 1) % 2 === 0 ? oddDoubled : evenDoubled) % 10 === 0) found = b;
    }
    if (found < 0) continue;
    if (start[a]! <= runEnd) runEnd = Math.max(runEnd, end[found]!);
    else {
      spans.mark(runStart, runEnd);
      runStart = start[a]!;
      runEnd = end[found]!;
    }
  }
  spans.mark(runStart, runEnd);
}

/** `[ ().-]`: what may stand between the digits of a phone number, one or two at a time. */
function isPhoneJoiner(c: number): boolean {
  return c === 32 || c === 40 || c === 41 || c === 46 || c === 45;
}

/**
 * Phone numbers: what `/(?<![\w+])\+?\d(?:[ ().-]{0,2}\d){9,14}(?![\w])/g` matches — an
 * optional `+`, then 10–15 digits in runs joined by one or two of `[ ().-]`, with no word
 * character (or `+`) before and no word character after. From each run that may start one,
 * the longest such number of whole runs (at most 15 digits, so at most 15 runs) is taken.
 */
export function markPhoneNumbers(text: string, groups: DigitGroups, spans: Spans): void {
  const { count, start, end } = groups;
  const joined = (g: number) => {
    const gap = start[g + 1]! - end[g]!;
    return gap <= 2 && isPhoneJoiner(text.charCodeAt(end[g]!)) && (gap === 1 || isPhoneJoiner(text.charCodeAt(end[g]! + 1)));
  };
  let g = 0;
  while (g < count) {
    const from = phoneStart(text, start[g]!);
    if (from < 0) {
      g++;
      continue;
    }
    let digits = 0;
    let found = -1;
    for (let h = g; h < count; h++) {
      if (h > g && !joined(h - 1)) break;
      digits += end[h]! - start[h]!;
      if (digits > PHONE_MAX) break;
      if (digits >= PHONE_MIN && (end[h]! === text.length || !isWordChar(text.charCodeAt(end[h]!)))) found = h;
    }
    if (found < 0) {
      g++;
      continue;
    }
    spans.mark(from, end[found]!);
    g = found + 1;
  }
}

/** Where a phone number whose first digit run begins at `at` starts (its `+`), or -1 if none may. */
function phoneStart(text: string, at: number): number {
  const before = at > 0 ? text.charCodeAt(at - 1) : -1;
  if (before === 43) {
    const plusBefore = at > 1 ? text.charCodeAt(at - 2) : -1;
    return plusBefore >= 0 && (isWordChar(plusBefore) || plusBefore === 43) ? -1 : at - 1;
  }
  return before >= 0 && isWordChar(before) ? -1 : at;
}
