import XCTest
final class PanguChatTestsSmoke: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
