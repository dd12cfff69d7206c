import TernTestSupport
import XCTest

/// A test case with one real `ternd` per test: started in a fresh temporary directory before each
/// test (with `brokerSettings`), stopped and removed after it.
class BrokerTestCase: XCTestCase {
    var directory: TemporaryDirectory!
    var broker: BrokerProcess!

    /// `--set` overrides for the broker; subclasses override to change them.
    class var brokerSettings: [String: String] { [:] }

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-\(Self.self)")
        broker = try BrokerProcess(dataDirectory: directory.path + "/data", settings: Self.brokerSettings)
    }

    override func tearDown() {
        broker?.stop()
        directory?.remove()
    }
}
