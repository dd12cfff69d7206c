/// `ternd`'s exit codes (documented in README.md and docs/operations).
enum TerndExit {
    /// Clean stop after SIGTERM/SIGINT.
    static let ok: Int32 = 0
    /// A bad command line (ArgumentParser's usage code).
    static let usage: Int32 = 64
    /// The data directory cannot be used (unwritable, corrupt metadata).
    static let dataDirectory: Int32 = 73
    /// A listener cannot be bound (port in use, bad address).
    static let listener: Int32 = 69
    /// An unexpected internal failure.
    static let software: Int32 = 70
    /// The configuration is invalid (unknown key, bad value, unreadable file).
    static let config: Int32 = 78
}
