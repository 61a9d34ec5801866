// Money is a decimal string with its currency (the graph's Money); sums are exact (scaled
// BigInt), never floating point, and shown with the locale's own format.
export interface Money {
  amount: string;
  currency: string;
}

function scaleOf(amount: string): number {
  const dot = amount.indexOf(".");
  return dot < 0 ? 0 : amount.length - dot - 1;
}

function toScaled(amount: string, scale: number): bigint {
  const negative = amount.startsWith("-");
  const bare = negative ? amount.slice(1) : amount;
  const [whole, fraction = ""] = bare.split(".");
  const digits = BigInt((whole || "0") + fraction.padEnd(scale, "0"));
  return negative ? -digits : digits;
}

function fromScaled(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, "0");
  const whole = scale ? digits.slice(0, -scale) : digits;
  const fraction = scale ? digits.slice(-scale).replace(/0+$/, "") : "";
  return `${negative ? "-" : ""}${whole}${fraction ? "." + fraction : ""}`;
}

/** a + b, exactly. */
export function addDecimal(a: string, b: string): string {
  const scale = Math.max(scaleOf(a), scaleOf(b));
  return fromScaled(toScaled(a, scale) + toScaled(b, scale), scale);
}

export function negate(a: string): string {
  return a.startsWith("-") ? a.slice(1) : a === "0" ? a : `-${a}`;
}

/** amount × factor (a probability), rounded to cents. */
export function scaleDecimal(a: string, factor: number): string {
  const scaled = toScaled(a, 2) * BigInt(Math.round(factor * 10000));
  const rounded = (scaled + (scaled >= 0n ? 5000n : -5000n)) / 10000n;
  return fromScaled(rounded, 2);
}

/** Adds (or with sign -1 removes) one amount into per-currency totals; zero totals drop out. */
export function addToTotals(totals: Money[], money: Money, sign: 1 | -1 = 1): Money[] {
  const delta = sign === 1 ? money.amount : negate(money.amount);
  let found = false;
  const next = totals.map((t) => {
    if (t.currency !== money.currency) return t;
    found = true;
    return { currency: t.currency, amount: addDecimal(t.amount, delta) };
  });
  if (!found) next.push({ currency: money.currency, amount: delta });
  return next.filter((t) => !/^-?0(\.0*)?$/.test(t.amount));
}

const formatters = new Map<string, Intl.NumberFormat>();

export function formatMoney(money: Money, locale: string, compact = false): string {
  const key = `${locale}|${money.currency}|${compact}`;
  let format = formatters.get(key);
  if (!format) {
    try {
      format = new Intl.NumberFormat(locale, {
        style: "currency",
        currency: money.currency,
        ...(compact ? { notation: "compact", maximumFractionDigits: 1 } : {}),
      });
    } catch {
      // A currency code Intl does not know: plain number and the code.
      format = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
      const plain = format;
      format = { format: (n: number) => `${plain.format(n)} ${money.currency}` } as Intl.NumberFormat;
    }
    formatters.set(key, format);
  }
  // Intl formats decimal strings exactly (no float rounding of big amounts).
  return format.format(money.amount as unknown as number);
}

export function formatTotals(totals: Money[], locale: string, compact = false): string {
  if (totals.length === 0) return "—";
  return [...totals]
    .sort((a, b) => a.currency.localeCompare(b.currency))
    .map((t) => formatMoney(t, locale, compact))
    .join(" · ");
}
