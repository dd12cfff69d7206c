import COpenSSL

/// Reading OpenSSL's thread-local error queue.
enum OpenSSLError {
    /// The queue's entries, oldest first, as OpenSSL's reason texts joined with "; " (the queue
    /// is emptied); `fallback` when it holds none.
    static func drain(fallback: String = "unknown OpenSSL error") -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if let text = ERR_reason_error_string(code) {
                let reason = String(cString: text)
                if reasons.last != reason { reasons.append(reason) }
            } else {
                reasons.append("error \(code)")
            }
        }
        return reasons.isEmpty ? fallback : reasons.joined(separator: "; ")
    }

    /// Whether the oldest queued error says a key could not be decrypted (a wrong password).
    static func queueHoldsBadPassword() -> Bool {
        let code = ERR_peek_error()
        return code != 0 && tern_err_is_bad_password(code) != 0
    }

    /// Empties the queue, before a call whose errors are read afterwards.
    static func clear() {
        ERR_clear_error()
    }
}
