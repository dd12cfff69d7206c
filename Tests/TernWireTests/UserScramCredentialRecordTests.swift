import TernWire
import XCTest

/// The SCRAM credential records: type numbers fixed forever, unknown mechanisms and hostile field
/// lengths refused.
final class UserScramCredentialRecordTests: XCTestCase {
    func testTypeNumbersAreFixed() {
        XCTAssertEqual(MetadataRecord.TypeCode.userScramCredential.rawValue, 10)
        XCTAssertEqual(MetadataRecord.TypeCode.removeUserScramCredential.rawValue, 11)
    }

    func testAGeneratedCredentialRoundTripsAndStillVerifies() throws {
        let credential = ScramCredential.generate(mechanism: .sha512, password: "s3cret")
        let record = MetadataRecord.userScramCredential(.init(name: "ops", credential: credential))
        let bytes = record.encoded()
        guard case .userScramCredential(let decoded) = try MetadataRecord.decode(bytes) else {
            return XCTFail("wrong type")
        }
        XCTAssertEqual(decoded.credential, credential)
        XCTAssertTrue(decoded.credential.verifies(password: "s3cret"))
        // Nothing in the record is the password.
        XCTAssertNil(bytes.firstRange(of: Array("s3cret".utf8)))
    }

    func testUnknownMechanismAndOversizedFieldsAreMalformed() {
        var remove = MetadataRecord.removeUserScramCredential(.init(name: "u", mechanism: .sha256)).encoded()
        remove[remove.count - 1] = 3
        XCTAssertThrowsError(try MetadataRecord.decode(remove)) { XCTAssertEqual(($0 as? WireError)?.code, .malformed) }

        var writer = ByteWriter()
        writer.write(MetadataRecord.TypeCode.userScramCredential.rawValue)
        writer.write(UInt16(0))
        writer.writeString("u")
        writer.write(UInt8(1))
        writer.write(UInt16(60_000))
        writer.write(contentsOf: [UInt8](repeating: 0, count: 60_000))
        XCTAssertThrowsError(try MetadataRecord.decode(writer.take())) {
            XCTAssertEqual(($0 as? WireError)?.code, .malformed)
        }
        var negative = MetadataRecord.userScramCredential(
            .init(name: "u", credential: ScramCredential.generate(mechanism: .sha256, password: "p"))
        ).encoded()
        negative.replaceSubrange((negative.count - 4)..., with: [0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertThrowsError(try MetadataRecord.decode(negative)) {
            XCTAssertEqual(($0 as? WireError)?.code, .malformed)
        }
    }
}
