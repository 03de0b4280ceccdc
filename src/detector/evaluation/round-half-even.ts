/**
 * Python's `round(x, digits)`: the decimal nearest to the exact value of the
 * double, ties to even. The SKAB leaderboard rounds its metrics this way, and
 * `toFixed` alone differs on exact ties (it rounds them away from zero).
 */
export function roundHalfEven(x: number, digits: number): number {
  if (!Number.isFinite(x)) return x;
  const fixed = x.toFixed(digits);
  // An exact tie has a finite decimal expansion ending in 5 just past `digits`;
  // 30 more digits show any double close to, but not at, a tie.
  const exact = Math.abs(x).toFixed(digits + 30);
  const tie = new RegExp(`\\.\\d{${digits}}50*$`).test(exact);
  if (!tie) return Number(fixed);
  const scale = 10 ** digits;
  const truncated = exact.slice(0, exact.indexOf('.') + digits + 1);
  const lastDigit = Number(truncated.replace('.', '').at(-1) ?? '0');
  const magnitude = Number(truncated) + (lastDigit % 2 === 0 ? 0 : 1 / scale);
  return Number((Math.sign(x) * magnitude).toFixed(digits));
}
