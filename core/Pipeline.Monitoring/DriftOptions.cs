using System.ComponentModel.DataAnnotations;

namespace Pipeline.Monitoring;

/// <summary>Drift-report settings (section <c>Drift</c>), validated at start-up.</summary>
public sealed class DriftOptions : IValidatableObject
{
    public const string Section = "Drift";

    /// <summary>Days of observed data a report covers, ending now.</summary>
    [Range(1, 90)]
    public int WindowDays { get; set; } = 7;

    /// <summary>Observed rows read at most per report; the newest files are read first, and the report says it was cut.</summary>
    [Range(1L, 1_000_000_000L)]
    public long MaxRows { get; set; } = 1_000_000;

    /// <summary>Bytes (as stored, compressed) downloaded at most per report; the newest files are read first.</summary>
    [Range(1L, 64L << 30)]
    public long MaxBytes { get; set; } = 256L << 20;

    /// <summary>
    /// Labelled outcome rows (<c>outcomes/{model}/</c>) held in memory at most per report, newest files first; the report
    /// says what was left unread. About 100 bytes each.
    /// </summary>
    [Range(1L, 10_000_000L)]
    public long MaxOutcomeRows { get; set; } = 500_000;

    /// <summary>Fewer observed rows than this: the report's status is <c>insufficient-data</c> and nothing is flagged.</summary>
    [Range(1L, 100_000_000L)]
    public long MinRows { get; set; } = 100;

    /// <summary>PSI from which a column is a warning.</summary>
    [Range(0.001, 100.0)]
    public double PsiWarning { get; set; } = 0.1;

    /// <summary>PSI from which a column (and so the model) has drifted.</summary>
    [Range(0.001, 100.0)]
    public double PsiDrift { get; set; } = 0.25;

    /// <summary>Rise of a column's missing rate over its training rate (absolute: 0.1 = 10 points) that counts as drift.</summary>
    [Range(0.0, 1.0)]
    public double MissingRateChange { get; set; } = 0.1;

    /// <summary>Rise of a categorical column's share of unknown values over its training "other" share that counts as drift.</summary>
    [Range(0.0, 1.0)]
    public double UnknownShareChange { get; set; } = 0.1;

    /// <summary>Share of present values outside the training range that counts as drift.</summary>
    [Range(0.0, 1.0)]
    public double RangeViolationShare { get; set; } = 0.05;

    /// <summary>Whether the prediction distribution's PSI alone marks the model drifted (it is always reported).</summary>
    public bool PredictionDriftFlagsModel { get; set; } = true;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (PsiWarning > PsiDrift)
        {
            yield return new ValidationResult($"Drift:PsiWarning ({PsiWarning}) must not be above Drift:PsiDrift ({PsiDrift}).", [nameof(PsiWarning), nameof(PsiDrift)]);
        }
    }
}
