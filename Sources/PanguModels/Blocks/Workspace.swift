// Scratch memory for one forward step. Blocks ask for named float buffers; a buffer is allocated the first time
// it is asked for and then reused by every layer of the step, so a 34-layer prefill touches each page once
// instead of once per layer.

/// Named scratch buffers for one forward step (not thread-safe: one step at a time).
final class Workspace {
    private var buffers: [String: (pointer: UnsafeMutablePointer<Float>, count: Int)] = [:]

    /// A buffer of at least `count` floats called `name`; its contents are whatever the last user left.
    func floats(_ name: String, _ count: Int) -> UnsafeMutablePointer<Float> {
        if let b = buffers[name], b.count >= count { return b.pointer }
        buffers[name]?.pointer.deallocate()
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        buffers[name] = (p, count)
        return p
    }

    deinit { for b in buffers.values { b.pointer.deallocate() } }
}
