// Resource limits of the template renderer (Docs/Fuzzing.md): loop bombs, output bombs and reference cycles in
// untrusted templates end with a ChatTemplateError and free their memory.
import Foundation
import XCTest
@testable import PanguChat

final class TemplateLimitsTests: XCTestCase {
    func renderError(_ src: String) -> ChatTemplateError? {
        do { _ = try ChatTemplate(src).render(context: [:]); return nil } catch { return error as? ChatTemplateError }
    }

    func testLoopBombEndsWithAStepBudgetError() {
        // 2.7 × 10^10 iterations of an empty body: without a budget this runs for hours.
        let bomb = "{% for a in range(3000) %}{% for b in range(3000) %}{% for c in range(3000) %}{% endfor %}{% endfor %}{% endfor %}"
        let e = renderError(bomb)
        XCTAssertNotNil(e, "a loop bomb must end with an error")
        XCTAssertTrue(e?.message.contains("\(TemplateLimits.maxSteps) steps") ?? false, "\(String(describing: e))")
    }

    func testOutputBombEndsWithAnOutputSizeError() {
        // 1000 × 100 kB = 100 MB of output, each piece within the string-repetition limit.
        let e = renderError("{% for a in range(1000) %}{{ 'x' * 100000 }}{% endfor %}")
        XCTAssertTrue(e?.message.contains("\(TemplateLimits.maxOutputBytes) bytes") ?? false, "\(String(describing: e))")
        // The same through a macro's output buffer and a {% set %} block.
        let m = renderError("{% macro m() %}{% for a in range(1000) %}{{ 'y' * 100000 }}{% endfor %}{% endmacro %}{{ m() }}")
        XCTAssertTrue(m?.message.contains("bytes") ?? false, "\(String(describing: m))")
        XCTAssertEqual(try ChatTemplate("{% for a in range(3) %}{{ 'ab' * 2 }}{% endfor %}").render(context: [:]), "abababababab")
    }

    func testRangeNearIntMaxDoesNotTrap() throws {
        // Python: list(range(2**63 - 2, 2**63 - 1, 5)) == [9223372036854775806].
        XCTAssertEqual(try ChatTemplate("{{ range(9223372036854775806, 9223372036854775807, 5) | list }}").render(context: [:]),
                       "[9223372036854775806]")
    }

    /// Fuzzer find (jinja, LeakSanitizer): a macro is stored in the scope it captures, so every render of a
    /// template with a macro leaked that scope and everything it held.
    func testRenderingMacrosAndSelfReferencingNamespacesFreesTheContext() throws {
        weak var weakProbe: JinjaNamespace?
        try autoreleasepoolIfAvailable {
            let probe = JinjaNamespace(OrderedDictionary())
            weakProbe = probe
            let t = try ChatTemplate("""
                {% macro m(x) %}<{{ x }}>{% endmacro %}{% set ns = namespace(v=1) %}{% set ns.me = ns %}\
                {% for i in [1, 2] recursive %}{{ loop.changed(loop) }}{% endfor %}{{ m(probe) }}
                """)
            let out = try t.render(context: ["probe": .namespace(probe)])
            XCTAssertTrue(out.hasPrefix("TrueTrue<"), out)
        }
        XCTAssertNil(weakProbe, "the render kept its context alive through a reference cycle")
    }

    private func autoreleasepoolIfAvailable(_ body: () throws -> Void) rethrows { try body() }
}
