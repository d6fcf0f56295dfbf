import XCTest
final class PanguRuntimeTestsSmoke: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
