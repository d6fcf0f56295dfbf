// Byte-for-byte parity of the PanguChat Jinja interpreter with Python jinja2 (HF settings).
// Goldens are produced by scripts/chat/make_template_goldens.py; never by this package.
import Foundation
import XCTest
@testable import PanguChat

/// Loads a JSON fixture with the package's own order-preserving parser.
func loadFixture(_ name: String) throws -> OrderedDictionary {
    let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"),
                            "missing fixture \(name).json")
    let text = try String(contentsOf: url, encoding: .utf8)
    guard case let .dict(d) = try JSONCoding.parse(text) else { throw ChatTemplateError("fixture is not an object") }
    return d
}

/// The pinned `strftime_now` time of the generator (naive local time).
func fixedNow(_ iso: String) -> Date {
    let parts = iso.split(whereSeparator: { "-T:".contains($0) }).compactMap { Int($0) }
    var c = DateComponents()
    (c.year, c.month, c.day, c.hour, c.minute, c.second) = (parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
    var cal = Calendar(identifier: .gregorian)
    cal.timeZone = .current
    return cal.date(from: c)!
}

func contextDict(_ v: JinjaValue?) -> [String: JinjaValue] {
    guard case let .dict(d)? = v else { return [:] }
    var out: [String: JinjaValue] = [:]
    for (k, x) in d.pairs { out[k] = x }
    return out
}

func str(_ v: JinjaValue?) -> String? { if case let .string(s)? = v { return s }; return nil }

/// Checks one golden case; returns a failure description or nil.
func checkCase(_ render: () throws -> String, _ c: OrderedDictionary) -> String? {
    if let expected = str(c["expected"]) {
        do {
            let got = try render()
            if got != expected { return "mismatch:\n  expected: \(expected.debugDescription)\n  got:      \(got.debugDescription)" }
        } catch {
            return "unexpected error \(error); expected \(expected.debugDescription)"
        }
        return nil
    }
    let kind = str(c["error"]) ?? "?"
    let message = str(c["message"]) ?? ""
    do {
        let got = try render()
        return "expected \(kind) error (\(message)) but rendered \(got.debugDescription)"
    } catch let e as ChatTemplateError {
        if kind == "raised" {
            if !e.raisedByTemplate || e.message != message { return "raise_exception mismatch: \(e) vs \(message)" }
        } else if e.raisedByTemplate {
            return "got raise_exception \(e.message) but expected \(kind): \(message)"
        }
        if e.line < 1 || e.column < 1 { return "error without position: \(e)" }
        return nil
    } catch {
        return "non-ChatTemplateError thrown: \(error)"
    }
}

final class TemplateGoldenTests: XCTestCase {
    func testRealTemplatesMatchJinja2() throws {
        let data = try loadFixture("template_goldens")
        guard case let .dict(templates)? = data["templates"], case let .array(cases)? = data["cases"] else {
            return XCTFail("bad fixture")
        }
        let now = fixedNow(str(data["fixed_now"])!)
        var compiled: [String: ChatTemplate] = [:]
        for (name, src) in templates.pairs { compiled[name] = try ChatTemplate(str(src)!) }
        XCTAssertGreaterThanOrEqual(compiled.count, 10)
        var pass = 0, errors = 0
        var perTemplate: [String: (Int, Int)] = [:]
        for case let .dict(c) in cases {
            let name = str(c["template"])!
            let t = try XCTUnwrap(compiled[name])
            let ctx = contextDict(c["context"])
            let failure = checkCase({ try t.render(context: ctx, now: now) }, c)
            var tally = perTemplate[name] ?? (0, 0)
            tally.1 += 1
            if let failure {
                XCTFail("[\(name) / \(str(c["conversation"]) ?? "")] \(failure)")
            } else {
                pass += 1
                tally.0 += 1
                if c["error"] != nil { errors += 1 }
            }
            perTemplate[name] = tally
        }
        for (name, t) in perTemplate.sorted(by: { $0.key < $1.key }) { print("template parity \(name): \(t.0)/\(t.1)") }
        print("template parity total: \(pass)/\(cases.count) byte-identical (\(errors) expected errors reproduced)")
        XCTAssertEqual(pass, cases.count)
        XCTAssertGreaterThan(cases.count, 300)
    }

    func testSnippetsMatchJinja2() throws {
        let data = try loadFixture("snippet_goldens")
        guard case let .array(cases)? = data["cases"] else { return XCTFail("bad fixture") }
        let now = fixedNow(str(data["fixed_now"])!)
        var pass = 0
        for case let .dict(c) in cases {
            let src = str(c["template"])!
            let ctx = contextDict(c["context"])
            let failure = checkCase({ try ChatTemplate(src).render(context: ctx, now: now) }, c)
            if let failure {
                XCTFail("[snippet \(c["id"]!.repr)] \(src.debugDescription)\n\(failure)")
            } else { pass += 1 }
        }
        print("snippet parity: \(pass)/\(cases.count)")
        XCTAssertEqual(pass, cases.count)
        XCTAssertGreaterThan(cases.count, 90)
    }
}

final class TemplateFuzzParityTests: XCTestCase {
    /// Seeded grammar-generated templates (scripts/chat/fuzz_templates.py) rendered by jinja2.
    func testRandomTemplatesMatchJinja2() throws {
        let data = try loadFixture("fuzz_goldens")
        guard case let .array(cases)? = data["cases"] else { return XCTFail("bad fixture") }
        let ctx = contextDict(data["context"])
        var pass = 0, rendered = 0
        for case let .dict(c) in cases {
            let src = str(c["template"])!
            if let failure = checkCase({ try ChatTemplate(src).render(context: ctx) }, c) {
                XCTFail("[fuzz \(c["id"]!.repr)] \(src.debugDescription)\n\(failure)")
            } else {
                pass += 1
                if c["expected"] != nil { rendered += 1 }
            }
        }
        print("fuzz parity: \(pass)/\(cases.count) (\(rendered) rendered byte-identical, \(pass - rendered) errors reproduced)")
        XCTAssertEqual(pass, cases.count)
    }
}
