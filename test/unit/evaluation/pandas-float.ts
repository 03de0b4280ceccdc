/**
 * The NAB test vector's per-file scores went through a CSV file written by
 * NAB (pandas `to_csv`, shortest round-trip digits) and read back by pandas'
 * default "high precision" float parser (`precise_xstrtod` in
 * pandas/_libs/src/parser/tokenizer.c). That parser keeps at most 17
 * significant digits *counting a leading "0"* and then divides by a power of
 * ten, so about one score in thirteen comes back one ulp away from what NAB
 * computed (e.g. -0.13844919792440225 → -0.1384491979244022). This is that
 * parser, so a test can compare the scorer's exact doubles with the vector
 * to the last digit.
 */
export function pandasPreciseParse(text: string): number {
  const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  const maxDigits = 17;
  let p = 0;
  let negative = false;
  if (text[p] === '-' || text[p] === '+') negative = text[p++] === '-';
  let number = 0;
  let exponent = 0;
  let digits = 0;
  while (isDigit(text[p])) {
    if (digits < maxDigits) {
      number = number * 10 + (text.charCodeAt(p) - 48);
      digits += 1;
    } else {
      exponent += 1;
    }
    p += 1;
  }
  if (text[p] === '.') {
    p += 1;
    let decimals = 0;
    while (digits < maxDigits && isDigit(text[p])) {
      number = number * 10 + (text.charCodeAt(p) - 48);
      p += 1;
      digits += 1;
      decimals += 1;
    }
    while (isDigit(text[p])) p += 1;
    exponent -= decimals;
  }
  if (text[p] === 'e' || text[p] === 'E') {
    p += 1;
    let sign = 1;
    if (text[p] === '-' || text[p] === '+') sign = text[p++] === '-' ? -1 : 1;
    let n = 0;
    while (isDigit(text[p])) n = n * 10 + (text.charCodeAt(p++) - 48);
    exponent += sign * n;
  }
  if (negative) number = -number;
  if (exponent > 0) return number * 10 ** exponent;
  if (exponent < 0) return number / 10 ** -exponent;
  return number;
}

/** A score as it reads back from NAB's scores CSV through pandas. */
export function throughPandasCsv(value: number): number {
  return pandasPreciseParse(String(value));
}
