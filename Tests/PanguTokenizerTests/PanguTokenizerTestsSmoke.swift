import XCTest
final class PanguTokenizerTestsSmoke: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
