// Speculative decoding in the continuous-batching scheduler (Docs/Speculative.md): each decoding sequence gets its
// own drafter; its drafts join the step's one batched forward pass like a prefill chunk with logits at every
// position, and the sequence's `GenerationState` verifies them and the scheduler rolls its KV cache back.
import PanguRuntime

/// How the scheduler drafts: one drafter per sequence, made when the sequence starts decoding and dropped (with
/// a draft model's own cache) when it ends.
public struct SchedulerSpeculation: Sendable {
    /// Most draft tokens per sequence and step (fewer while acceptance is low).
    public var draftMax: Int
    /// Makes the drafter of one sequence: a `PromptLookupDrafter`, or a `ModelDrafter` over a draft model whose
    /// vocabulary was checked against the target (`Engine.checkDraft`).
    public var makeDrafter: @Sendable () -> Drafter

    /// Creates the settings.
    public init(draftMax: Int, makeDrafter: @escaping @Sendable () -> Drafter) {
        self.draftMax = draftMax
        self.makeDrafter = makeDrafter
    }
}
