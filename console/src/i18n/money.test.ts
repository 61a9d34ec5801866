import { describe, expect, it } from "vitest";
import { addDecimal, addToTotals, formatMoney, formatTotals, scaleDecimal } from "./money";
import { browserLanguage, translate } from "./index";

describe("exact decimal sums", () => {
  it("adds without floating point error", () => {
    expect(addDecimal("0.1", "0.2")).toBe("0.3");
    expect(addDecimal("1000", "-999.99")).toBe("0.01");
    expect(addDecimal("99999999999999999.99", "0.01")).toBe("100000000000000000");
  });

  it("weights an amount by a probability to the cent", () => {
    expect(scaleDecimal("1000", 0.25)).toBe("250");
    expect(scaleDecimal("33.33", 0.5)).toBe("16.67");
  });

  it("keeps totals per currency and drops a total that reaches zero", () => {
    let totals = addToTotals([], { amount: "10.50", currency: "EUR" });
    totals = addToTotals(totals, { amount: "7", currency: "USD" });
    totals = addToTotals(totals, { amount: "10.5", currency: "EUR" }, -1);
    expect(totals).toEqual([{ amount: "7", currency: "USD" }]);
  });
});

describe("money by locale", () => {
  it("formats with the locale's separators and symbol", () => {
    expect(formatMoney({ amount: "1234.5", currency: "EUR" }, "en-GB")).toBe("€1,234.50");
    expect(formatMoney({ amount: "1234.5", currency: "EUR" }, "de-DE")).toBe("1.234,50\u00a0€");
    expect(formatMoney({ amount: "1234.5", currency: "CNY" }, "zh-CN")).toBe("¥1,234.50");
  });

  it("formats big amounts exactly (strings, not floats)", () => {
    expect(formatMoney({ amount: "12345678901234567.89", currency: "USD" }, "en-US")).toBe("$12,345,678,901,234,567.89");
  });

  it("survives a currency code Intl does not know, and an empty total", () => {
    expect(formatMoney({ amount: "5", currency: "XBT1" }, "en-GB")).toContain("XBT1");
    expect(formatTotals([], "en-GB")).toBe("—");
    expect(formatTotals([{ amount: "1", currency: "USD" }, { amount: "2", currency: "EUR" }], "en-GB")).toBe("€2.00 · US$1.00");
  });
});

describe("language", () => {
  it("follows the browser and falls back to English", () => {
    expect(browserLanguage(["zh-CN", "en"])).toBe("zh");
    expect(browserLanguage(["en-US", "zh-CN"])).toBe("en");
    expect(browserLanguage(["fr-FR"])).toBe("en");
    expect(translate("zh", "navBoard")).toBe("看板");
    expect(translate("en", "daysInStage", { days: 3 })).toBe("3 d in stage");
  });
});
