using System.ComponentModel.DataAnnotations;

namespace Pipeline.Functions.Preprocess;

public sealed class PreprocessOptions
{
    public const string Section = "Preprocess";

    /// <summary>Share of rows whose field count differs from the header's above which the file is rejected.</summary>
    [Range(0.0, 1.0)]
    public double MaxRaggedShare { get; set; } = 0.1;

    /// <summary>Share of present values in a column that may fail to parse as numbers before the column counts as non-numeric.</summary>
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

    [Range(0.0, 0.5)]
    public double ValidationShare { get; set; } = 0.15;

    [Range(0.0, 0.5)]
    public double TestShare { get; set; } = 0.15;

    /// <summary>Seed of the deterministic train/validation/test split.</summary>
    public int SplitSeed { get; set; } = 20261123;
}
