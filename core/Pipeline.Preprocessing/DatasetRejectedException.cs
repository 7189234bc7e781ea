using Pipeline.Contracts;

namespace Pipeline.Preprocessing;

/// <summary>The input cannot become a dataset version; the message is written to a rejection report. Never retried.</summary>
public sealed class DatasetRejectedException(string reason, string message, int? line = null) : Exception(message)
{
    /// <summary>Short machine-readable reason, e.g. <c>empty-file</c>.</summary>
    public string Reason { get; } = reason;

    public int? Line { get; } = line;

    /// <summary>The file the reason is about, where one is.</summary>
    public string? Blob { get; init; }

    /// <summary>What was read before the rejection, for the report.</summary>
    public ValidationReport? Report { get; set; }
}
