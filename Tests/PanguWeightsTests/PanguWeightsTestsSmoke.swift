import XCTest
final class PanguWeightsTestsSmoke: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
