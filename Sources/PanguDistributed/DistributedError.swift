/// Errors raised by the MPI wrapper and the expert-parallel plan.
public enum DistributedError: Error, CustomStringConvertible, Equatable {
    /// An MPI call returned an error code (the communicator uses `MPI_ERRORS_RETURN`, so errors come back here
    /// instead of aborting the job). `message` is MPI's own text for `code`.
    case mpi(call: String, code: Int32, message: String)
    /// The MPI library cannot give the thread support the engine needs (see `Communicator.requiredThreadLevel`).
    case threadSupport(provided: String, required: String)
    /// MPI was already finalised in this process; MPI cannot be initialised twice.
    case finalized
    /// A buffer is larger than one MPI call can move (MPI counts are 32-bit).
    case countTooLarge(call: String, count: Int)
    /// A caller passed inconsistent arguments (negative count, rank out of range, buffers of the wrong size).
    case invalidArgument(String)
    /// The model cannot be split across this many ranks; the text names the dimension that does not divide.
    case invalidSplit(String)
    /// A tensor name the expert-parallel ownership filter does not recognise.
    case unknownTensor(String)

    public var description: String {
        switch self {
        case let .mpi(call, code, message): return "\(call) failed with MPI error \(code): \(message)"
        case let .threadSupport(provided, required):
            return "the MPI library provides thread level \(provided) but the engine needs \(required) "
                + "(the model thread calls MPI while the thread pool computes)"
        case .finalized: return "MPI was already finalised in this process and cannot be initialised again"
        case let .countTooLarge(call, count):
            return "\(call): \(count) elements exceed the 32-bit element count of one MPI call"
        case let .invalidArgument(detail): return detail
        case let .invalidSplit(detail): return "cannot split the model for expert parallelism: \(detail)"
        case let .unknownTensor(name):
            return "tensor '\(name)' is not known to the expert-parallel ownership filter"
        }
    }
}
