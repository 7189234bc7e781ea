using Pipeline.Contracts;

namespace Pipeline.Scoring;

/// <summary>A file cannot be scored as a whole; the message goes into its report. Never retried.</summary>
public sealed class ScoringException(ScoringFailure reason, string message, Exception? inner = null) : Exception(message, inner)
{
    public ScoringFailure Reason { get; } = reason;
}
