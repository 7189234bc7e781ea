namespace Pipeline.Contracts;

/// <summary><c>datasets/{dataset}/rejections/{time}-{file}.json</c>: why an upload (or one of a dataset's files) did not become a dataset version.</summary>
public sealed class RejectionReport
{
    public string Dataset { get; set; } = "";

    public string Blob { get; set; } = "";

    public string? Sha256 { get; set; }

    public DateTimeOffset RejectedAt { get; set; }

    /// <summary>Short machine-readable reason, e.g. <c>empty-file</c>, <c>header-only</c>, <c>binary-content</c>.</summary>
    public string Reason { get; set; } = "";

    /// <summary>A sentence a data team can act on.</summary>
    public string Message { get; set; } = "";

    /// <summary>1-based line of the first offending row, where one applies.</summary>
    public int? Line { get; set; }

    /// <summary>What was read before the rejection: files, columns, dropped rows, warnings (null when nothing could be read).</summary>
    public ValidationReport? Validation { get; set; }

    /// <summary>Human-readable summary (also written next to this report as <c>.md</c>).</summary>
    public string? Summary { get; set; }
}
