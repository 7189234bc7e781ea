using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Pipeline.Preprocessing;

public sealed class PreprocessOptions : IValidatableObject
{
    public const string Section = "Preprocess";

    /// <summary>Share of a file's rows whose field count differs from the header's above which the file is rejected.</summary>
    [Range(0.0, 1.0)]
    public double MaxRaggedShare { get; set; } = 0.1;

    /// <summary>Share of present values in a column that may fail to parse as its type before the column is typed otherwise.</summary>
    [Range(0.0, 1.0)]
    public double MaxUnparseableShare { get; set; } = 0.1;

    /// <summary>Integer-valued numeric targets with at most this many distinct values are classification targets.</summary>
    [Range(2, 1000)]
    public int MaxClassesForNumericTarget { get; set; } = 20;

    [Range(2, 10_000)]
    public int MaxClasses { get; set; } = 200;

    /// <summary>Usable rows below which a dataset is rejected.</summary>
    [Range(3, int.MaxValue)]
    public int MinRows { get; set; } = 20;

    /// <summary>Share of rows in the validation split (rounded to a multiple of 5%: rows are dealt in blocks of 20).</summary>
    [Range(0.05, 0.4)]
    public double ValidationShare { get; set; } = 0.15;

    [Range(0.05, 0.4)]
    public double TestShare { get; set; } = 0.15;

    /// <summary>Seed of the deterministic train/validation/test split.</summary>
    public int SplitSeed { get; set; } = 20261123;

    /// <summary>Categorical columns: the most frequent train-split categories one-hot encoded; the rest share "other".</summary>
    [Range(1, 1000)]
    public int MaxCategories { get; set; } = 20;

    /// <summary>Text columns with more distinct values are identifiers or free text, never categorical features.</summary>
    [Range(2, 100_000)]
    public int MaxCategoricalDistinct { get; set; } = 1000;

    /// <summary>Distinct values tracked per column (memory bound); beyond it the distinct count is a lower bound.</summary>
    [Range(100, 1_000_000)]
    public int MaxTrackedDistinct { get; set; } = 10_000;

    /// <summary>
    /// Characters the tracked distinct values of a column may hold together (memory bound: 10,000 values of a long free-text
    /// column would otherwise be kept whole); past it tracking stops as past <see cref="MaxTrackedDistinct"/>.
    /// </summary>
    [Range(1000, 100_000_000)]
    public int MaxTrackedChars { get; set; } = 1 << 20;

    /// <summary>Train values sampled per numeric column for the median (exact below this count, approximate above).</summary>
    [Range(100, 10_000_000)]
    public int MedianSampleSize { get; set; } = 20_000;

    /// <summary>Rows checked for exact duplicates (memory bound: 8 bytes per row).</summary>
    [Range(0, 100_000_000)]
    public int MaxDuplicateCheckRows { get; set; } = 2_000_000;

    /// <summary>Smallest class share of the largest class's count below which an imbalance warning is written.</summary>
    [Range(0.0, 1.0)]
    public double ImbalanceWarningRatio { get; set; } = 0.05;

    /// <summary>
    /// Rows per Parquet row group of the train split (memory bound of the writers); validation and test row groups are
    /// smaller in proportion to their shares of the rows.
    /// </summary>
    [Range(1000, 10_000_000)]
    public int RowGroupSize { get; set; } = 25_000;

    public const int DefaultMaxGzipRatio = 100;

    /// <summary>
    /// Gzip-compressed CSV or JSON Lines may unpack to this many times its size (64 MB at least); past it the file is
    /// rejected (<c>gzip-too-large</c>): a gzip bomb would otherwise fill the instance's disk. Text compresses 3–20 times.
    /// </summary>
    [Range(2, 100_000)]
    public int MaxGzipRatio { get; set; } = DefaultMaxGzipRatio;

    /// <summary>Columns a file may have; a wider file is rejected (<c>too-many-columns</c>) before any row is read.</summary>
    [Range(2, 100_000)]
    public int MaxColumns { get; set; } = 1_000;

    /// <summary>Encoded features a version may have (one-hot categories count one each); past it: <c>too-many-features</c>.</summary>
    [Range(1, 100_000)]
    public int MaxFeatures { get; set; } = 2_000;

    /// <summary>
    /// Memory the column profiles of pass 1 may take together. Each column's distinct-value tracking and median sample
    /// get their share of it (never more than <see cref="MaxTrackedDistinct"/>, <see cref="MaxTrackedChars"/> and
    /// <see cref="MedianSampleSize"/>), so a wide file keeps the same bound as a narrow one.
    /// </summary>
    [Range(16L << 20, 4L << 30)]
    public long ProfileMemoryBytes { get; set; } = 256L << 20;

    /// <summary>Bytes of one split's row-group buffer: wide splits get fewer rows per row group (at most <see cref="RowGroupSize"/>).</summary>
    [Range(1L << 20, 1L << 30)]
    public long MaxRowGroupBytes { get; set; } = 16L << 20;

    /// <summary>
    /// Parquet column chunks (row groups times columns, over the three split files) a version may have. The writer holds
    /// each chunk's metadata, about 1 KB, until the file is closed, and a wide split's row groups are short
    /// (<see cref="MaxRowGroupBytes"/>), so this bounds long and wide versions: at 2,000 features about 50,000 rows, at
    /// 500 about 800,000, at 100 or fewer several million. Past it: <c>too-many-cells</c>.
    /// </summary>
    [Range(1000, 10_000_000)]
    public long MaxColumnChunks { get; set; } = 100_000;

    public const long DefaultMaxParquetRowGroupBytes = 256L << 20;

    /// <summary>
    /// Memory one row group of an uploaded Parquet file may take while it is read (estimated from the footer before
    /// anything is allocated: rows times each column's cell); past it the file is rejected
    /// (<c>parquet-row-group-too-large</c>). Numbers take their own size per cell, text its characters: a million-row
    /// group of 20 numeric columns takes 160 MB.
    /// </summary>
    [Range(16L << 20, 4L << 30)]
    public long MaxParquetRowGroupBytes { get; set; } = DefaultMaxParquetRowGroupBytes;

    /// <summary>Examples of dropped rows kept per reason in the report.</summary>
    [Range(0, 1000)]
    public int DroppedExamples { get; set; } = 5;

    /// <summary>
    /// Debounce: a dataset is built only once no file of it has changed for this long, so a burst of uploads trains once.
    /// Zero builds on every event.
    /// </summary>
    public TimeSpan QuietPeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The queue the Preprocess trigger listens on (its [QueueTrigger]): the debounce queues its delayed copies of events there.</summary>
    [Required]
    public string BlobCreatedQueue { get; set; } = Pipeline.Storage.StorageNames.BlobCreatedQueue;

    /// <summary>
    /// Operator setting: dataset name → the model its versions publish to (<c>Preprocess__ModelNames__sales=forecast</c>);
    /// a dataset not listed publishes to the model of its own name. Not settable from <c>raw/</c>: an upload must not be
    /// able to replace another team's model.
    /// </summary>
    public Dictionary<string, string> ModelNames { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Local folder for downloaded files and Parquet splits while a version is built; default: the system temp folder.</summary>
    public string? WorkDirectory { get; set; }

    /// <summary>What the attributes cannot say without reflection: the quiet period is between zero and an hour; model names are valid.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (QuietPeriod < TimeSpan.Zero || QuietPeriod > TimeSpan.FromHours(1))
        {
            yield return new ValidationResult($"Preprocess:QuietPeriod is {QuietPeriod}; use 00:00:00 to 01:00:00.", [nameof(QuietPeriod)]);
        }

        foreach (var (dataset, model) in ModelNames)
        {
            if (!Pipeline.Storage.StorageNames.IsValidName(dataset) || !Pipeline.Storage.StorageNames.IsValidName(model))
            {
                yield return new ValidationResult($"Preprocess:ModelNames maps '{dataset}' to '{model}'; both must be valid names (1-63 lower-case letters, digits, '-' or '_').", [nameof(ModelNames)]);
            }
        }
    }
}

/// <summary>Validates <see cref="PreprocessOptions"/> from its DataAnnotations, generated at compile time (no reflection).</summary>
[OptionsValidator]
public sealed partial class PreprocessOptionsValidator : IValidateOptions<PreprocessOptions>;
