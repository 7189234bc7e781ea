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

/// <summary>Batch-scoring settings (section <c>Scoring</c>), validated at start-up.</summary>
public sealed class ScoringOptions
{
    public const string Section = "Scoring";

    /// <summary>
    /// Largest input the functions app scores (default 2 GiB): scoring streams in bounded memory whatever the size, so the
    /// limit is time — at the rate measured in docs/benchmarks.md a file this size takes well under the function timeout.
    /// Larger files get a <c>too-large</c> report.
    /// </summary>
    [Range(1L, long.MaxValue)]
    public long MaxFileBytes { get; set; } = 2L << 30;

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
}
