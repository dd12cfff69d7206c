import TernWire

#if canImport(Glibc)
import Glibc
#endif

/// `sasl.bootstrap.users.file`: the first users of a secured cluster, one `NAME:PASSWORD` per line
/// (Docker secrets, systemd `LoadCredential=`). Each user that does not exist yet gets a credential
/// for every enabled SCRAM mechanism, proposed to the metadata log before the listeners open, so a
/// secured cluster is never reachable without users. The file is refused if its group or others
/// may read or write it; errors name the line, never a password.
public enum SaslBootstrapUsers {
    /// One user from the file.
    public struct Entry: Hashable, Sendable {
        public var name: String
        public var password: String

        public init(name: String, password: String) {
            self.name = name
            self.password = password
        }
    }

    /// Largest file read: a handful of users, not a database.
    public static let maxFileBytes = 64 * 1024

    /// Parses the file's text. Blank lines and lines starting with `#` are skipped; the name ends at
    /// the first `:`, so a password may contain `:` (and spaces, kept as they are).
    /// - Throws: ``ConfigError`` naming `origin` and the line.
    public static func parse(_ text: String, origin: String) throws(ConfigError) -> [Entry] {
        var entries: [Entry] = []
        var seen: Set<String> = []
        // "\r\n" is one Character in Swift: split on both so CRLF files (Windows editors) work.
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        for (index, line) in lines.enumerated() {
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) || line.hasPrefix("#") { continue }
            let at = "\(origin) line \(index + 1)"
            guard let colon = line.firstIndex(of: ":") else {
                throw ConfigError(origin: at, reason: "expected NAME:PASSWORD")
            }
            let name = String(line[..<colon])
            let password = String(line[line.index(after: colon)...])
            guard !name.isEmpty, name.utf8.count <= 255,
                name.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F })
            else {
                throw ConfigError(
                    origin: at, reason: "user name must be 1 to 255 bytes without spaces or control characters")
            }
            guard !password.isEmpty, password.utf8.count <= 255, !password.utf8.contains(0) else {
                throw ConfigError(origin: at, reason: "password of user \(name) must be 1 to 255 bytes")
            }
            guard seen.insert(name).inserted else {
                throw ConfigError(origin: at, reason: "user \(name) appears twice")
            }
            entries.append(Entry(name: name, password: password))
        }
        return entries
    }

    /// Reads and parses `path`, refusing a file whose group or others have read or write
    /// permission (checked on the open descriptor, so the file checked is the file read).
    public static func load(path: String) throws(ConfigError) -> [Entry] {
        let origin = "sasl.bootstrap.users.file \(path)"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ConfigError(origin: origin, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ConfigError(origin: origin, reason: "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw ConfigError(origin: origin, reason: "not a regular file") }
        let mode = info.st_mode & 0o777
        guard mode & 0o066 == 0 else {
            throw ConfigError(
                origin: origin,
                reason:
                    "mode \(String(mode, radix: 8)) lets group or others read or write it; run chmod 600 (or 400) on it"
            )
        }
        guard info.st_size <= maxFileBytes else {
            throw ConfigError(origin: origin, reason: "\(info.st_size) bytes; at most \(maxFileBytes)")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ConfigError(origin: origin, reason: "cannot read: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += buffer.prefix(count)
            guard bytes.count <= maxFileBytes else {
                throw ConfigError(origin: origin, reason: "grew past \(maxFileBytes) bytes")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(origin: origin, reason: "not UTF-8")
        }
        return try parse(text, origin: origin)
    }

    /// The records to propose: for each entry whose user has no credential yet in `image`, one
    /// ``UserScramCredentialRecord`` per mechanism in `mechanisms`. A user who exists is left alone,
    /// so a password changed later is not reset by the file at the next start.
    /// - Parameter makeCredential: derives a credential (random salt in production; fixed in tests).
    public static func records(
        for entries: [Entry], mechanisms: [ScramMechanism], image: MetadataImage,
        makeCredential: (ScramMechanism, String) -> ScramCredential = {
            ScramCredential.generate(mechanism: $0, password: $1)
        }
    ) -> [MetadataRecord] {
        var out: [MetadataRecord] = []
        for entry in entries where image.scramCredentials[entry.name] == nil {
            for mechanism in mechanisms {
                out.append(
                    .userScramCredential(.init(name: entry.name, credential: makeCredential(mechanism, entry.password)))
                )
            }
        }
        return out
    }
}
