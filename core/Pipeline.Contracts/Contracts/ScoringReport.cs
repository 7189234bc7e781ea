using System.Text.Json.Serialization;

namespace Pipeline.Contracts;

/// <summary>
/// <c>predictions/{model}/{file}.report.json</c>: what batch scoring made of one file of container <c>score</c> — the
/// model version used, the rows read, scored and not scored (each with its line and reason), or why the file as a whole
/// could not be scored.
/// </summary>
public sealed class ScoringReport
{
    public ScoringStatus Status { get; set; }

    /// <summary>Why the file as a whole was not scored (<see cref="ScoringStatus.Failed"/> only).</summary>
    public ScoringFailure? Reason { get; set; }

    /// <summary>What went wrong, or a summary of what was done.</summary>
    public string Message { get; set; } = "";

    public string Model { get; set; } = "";

    /// <summary>The model version that scored the file (the one asked for with <c>@version</c>, else the current one).</summary>
    public string? Version { get; set; }

    /// <summary>The scored blob, <c>score/…</c>.</summary>
    public string Input { get; set; } = "";

    /// <summary>The predictions blob, <c>predictions/…</c>; null when nothing was written.</summary>
    public string? Output { get; set; }

    /// <summary>The input's format as read, e.g. <c>csv</c>, <c>jsonl+gzip</c>, <c>parquet</c>.</summary>
    public string? Format { get; set; }

    /// <summary>The output's format: <c>csv</c>, <c>jsonl</c> or <c>parquet</c> (<c>+gzip</c> when the input was gzip-compressed text).</summary>
    public string? OutputFormat { get; set; }

    /// <summary>Data rows read (blank lines are not rows).</summary>
    public long Rows { get; set; }

    /// <summary>Rows written to the output with their prediction, in input order.</summary>
    public long Scored { get; set; }

    /// <summary>Rows that could not be scored (not in the output); the first of them are listed in <see cref="BadRows"/>.</summary>
    public long Failed { get; set; }

    /// <summary>The first rows that could not be scored, with their line (CSV: the header is line 1; Parquet: the row number) and why.</summary>
    public List<BadRow> BadRows { get; set; } = [];

    /// <summary>
    /// Which host scored (or is to score) the file: <c>functions-app</c> up to <c>Scoring:MaxFileBytes</c>, <c>job</c>
    /// (the scoring Container Apps job) above it.
    /// </summary>
    public ScoringHost? ScoredBy { get; set; }

    /// <summary>The input's size in bytes, when it was read.</summary>
    public long? Bytes { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public double Seconds { get; set; }
}

/// <summary>A row that was not scored: its line in the input and why.</summary>
public sealed class BadRow
{
    public long Line { get; set; }

    public string Reason { get; set; } = "";
}

public enum ScoringStatus
{
    /// <summary>The file was scored; rows that could not be scored, if any, are listed and left out of the output.</summary>
    [JsonStringEnumMemberName("succeeded")]
    Succeeded,

    /// <summary>Nothing was scored; <see cref="ScoringReport.Reason"/> says why.</summary>
    [JsonStringEnumMemberName("failed")]
    Failed,

    /// <summary>
    /// The file is larger than the functions app scores: it was handed to the scoring job, which replaces this report with
    /// its own (<see cref="Succeeded"/> or <see cref="Failed"/>) when it is done.
    /// </summary>
    [JsonStringEnumMemberName("handed-to-job")]
    HandedToJob,
}

/// <summary>Where a file is scored.</summary>
public enum ScoringHost
{
    /// <summary>The functions app's <c>Score</c> function (files up to <c>Scoring:MaxFileBytes</c>).</summary>
    [JsonStringEnumMemberName("functions-app")]
    FunctionsApp,

    /// <summary>The scoring job (<c>Pipeline.Trainer score</c>, a Container Apps job execution in Azure), files above it.</summary>
    [JsonStringEnumMemberName("job")]
    Job,
}

/// <summary>Why a file as a whole could not be scored.</summary>
public enum ScoringFailure
{
    /// <summary>The path is not <c>score/{model}[@{version}]/{file}</c> with a valid model name and version.</summary>
    [JsonStringEnumMemberName("invalid-path")]
    InvalidPath,

    /// <summary>There is no such model, or it has no current version.</summary>
    [JsonStringEnumMemberName("unknown-model")]
    UnknownModel,

    /// <summary>The model has no such version.</summary>
    [JsonStringEnumMemberName("unknown-version")]
    UnknownVersion,

    /// <summary>The version exists but cannot be loaded (no manifest, an ONNX graph the check refuses, a graph batch scoring does not take).</summary>
    [JsonStringEnumMemberName("model-unavailable")]
    ModelUnavailable,

    /// <summary>The file lacks columns the model needs.</summary>
    [JsonStringEnumMemberName("missing-columns")]
    MissingColumns,

    /// <summary>The file cannot be read (empty, corrupt gzip or Parquet, binary, a record beyond the size limit).</summary>
    [JsonStringEnumMemberName("unreadable-file")]
    UnreadableFile,

    /// <summary>The file is larger than the scoring job scores (<c>Scoring:MaxJobFileBytes</c>).</summary>
    [JsonStringEnumMemberName("too-large")]
    TooLarge,

    /// <summary>The scoring job's attempts on the file all failed (crashed, ran out of memory or disk, timed out).</summary>
    [JsonStringEnumMemberName("job-failed")]
    JobFailed,
}
