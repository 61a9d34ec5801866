import { describe, expect, it } from "vitest";
import { toCsv } from "./csv";

describe("toCsv", () => {
  it("quotes what needs quoting and keeps Chinese text", () => {
    expect(toCsv(["name", "tags"], [["Acme, Inc.", 'say "hi"'], ["北京科技", null]])).toBe(
      'name,tags\r\n"Acme, Inc.","say ""hi"""\r\n北京科技,\r\n',
    );
  });
});
