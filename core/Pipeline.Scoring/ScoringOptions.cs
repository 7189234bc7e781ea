using System.ComponentModel.DataAnnotations;

namespace Pipeline.Scoring;

/// <summary>Which format predictions are written in.</summary>
public enum PredictionFormat
{
    /// <summary>The input's: CSV (same delimiter), JSON Lines or Parquet, gzip-compressed when the input text was.</summary>
    Input,

    /// <summary>Parquet, whatever the input (the file name's data extension becomes <c>.parquet</c>).</summary>
    Parquet,
}

/// <summary>Where a file of a given size is scored (<see cref="ScoringOptions.RouteOf"/>).</summary>
public enum ScoringRoute
{
    /// <summary>In the functions app's <c>Score</c> invocation: up to <see cref="ScoringOptions.MaxFileBytes"/>.</summary>
    FunctionsApp,

    /// <summary>Handed to the scoring job on queue <c>score-jobs</c>: up to <see cref="ScoringOptions.MaxJobFileBytes"/>.</summary>
    Job,

    /// <summary>Not scored: a <c>too-large</c> report.</summary>
    TooLarge,
}

/// <summary>Batch-scoring settings (section <c>Scoring</c>), validated at start-up.</summary>
public sealed class ScoringOptions : IValidatableObject
{
    public const string Section = "Scoring";

    /// <summary>
    /// Largest input the functions app scores itself (default 2 GiB): scoring streams in bounded memory whatever the size,
    /// so the limit is time — at the rate measured in docs/benchmarks.md a file this size takes well under the function
    /// timeout. Larger files are handed to the scoring job (queue <c>score-jobs</c>).
    /// </summary>
    [Range(1L, long.MaxValue)]
    public long MaxFileBytes { get; set; } = 2L << 30;

    /// <summary>
    /// Largest input the scoring job scores (default 3 GiB): the job keeps the input and its output on its replica's
    /// ephemeral disk while it scores (8 GiB on a Consumption replica with more than one core), and a CSV's output is
    /// about 1.5 times its input. Larger files get a <c>too-large</c> report asking to split them. At least
    /// <see cref="MaxFileBytes"/>.
    /// </summary>
    [Range(1L, long.MaxValue)]
    public long MaxJobFileBytes { get; set; } = 3L << 30;

    /// <summary>The queue files above <see cref="MaxFileBytes"/> are handed over on: the scoring job's <c>Worker:QueueName</c>.</summary>
    [Required]
    [RegularExpression("^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$", ErrorMessage = "Scoring:JobQueue must be a storage queue name: 3-63 lower-case letters, digits and single hyphens.")]
    public string JobQueue { get; set; } = Pipeline.Storage.StorageNames.ScoreJobsQueue;

    /// <summary>Where a file of <paramref name="bytes"/> bytes is scored.</summary>
    public ScoringRoute RouteOf(long bytes) =>
        bytes <= MaxFileBytes ? ScoringRoute.FunctionsApp : bytes <= MaxJobFileBytes ? ScoringRoute.Job : ScoringRoute.TooLarge;

    /// <summary>Model files larger than this are not loaded (as the serving app's <c>Models:MaxModelBytes</c>).</summary>
    [Range(1L, 4L << 30)]
    public long MaxModelBytes { get; set; } = 512L << 20;

    /// <summary>Constant tensors a model may declare in total (the check made before ONNX Runtime reads the file).</summary>
    [Range(1L, 4L << 30)]
    public long MaxInitializerBytes { get; set; } = 1L << 30;

    /// <summary>Rows that could not be scored listed in the report; all are counted.</summary>
    [Range(0, 1_000_000)]
    public int MaxListedBadRows { get; set; } = 1000;

    /// <summary>Threads ONNX Runtime uses per inference call.</summary>
    [Range(1, 64)]
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>Parquet output: rows per row group.</summary>
    [Range(1024, 1_048_576)]
    public int ParquetRowGroupRows { get; set; } = 65_536;

    public PredictionFormat OutputFormat { get; set; } = PredictionFormat.Input;

    /// <summary>Where the input and output are kept while a file is scored; default the temp folder.</summary>
    public string? WorkDirectory { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxJobFileBytes < MaxFileBytes)
        {
            yield return new ValidationResult(
                $"Scoring:MaxJobFileBytes ({MaxJobFileBytes}) is below Scoring:MaxFileBytes ({MaxFileBytes}): the scoring job takes the files the functions app does not.",
                [nameof(MaxJobFileBytes), nameof(MaxFileBytes)]);
        }
    }
}
