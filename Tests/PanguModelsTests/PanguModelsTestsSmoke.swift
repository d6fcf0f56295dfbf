import XCTest
final class PanguModelsTestsSmoke: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
