using System.Text.Json.Serialization;

namespace Pipeline.Contracts;

/// <summary>
/// <c>manifest.json</c> <c>baseline</c> of a model version: what the model was trained on, in a form observed data can be
/// compared with (drift reports). Bounded: per raw column a handful of quantile bins or the model's categories (already
/// capped by the dataset's <c>maxCategories</c>) plus "other".
/// </summary>
public sealed class TrainingBaseline
{
    /// <summary>Quantile bins asked for per numeric feature (fewer when values repeat).</summary>
    public int Bins { get; set; }

    /// <summary>Train-split rows the bins and shares were computed from.</summary>
    public int TrainRows { get; set; }

    /// <summary>Test-split rows the prediction distribution was computed from.</summary>
    public int TestRows { get; set; }

    /// <summary>Per raw column of <see cref="ModelManifest.Encodings"/> (or per feature when the model has no encodings).</summary>
    public List<ColumnBaseline> Columns { get; set; } = [];

    /// <summary>The served artifact's predictions on the test split: class shares (classification) or value bins (regression).</summary>
    public ColumnBaseline? Predictions { get; set; }
}

/// <summary>One raw column's train-split distribution as the model sees it (after imputation, like the encoded rows).</summary>
public sealed class ColumnBaseline
{
    public string Column { get; set; } = "";

    /// <summary>The column's kind (<see cref="ColumnKinds"/>): numeric and datetime columns are binned, boolean and categorical ones counted by category.</summary>
    public string Kind { get; set; } = ColumnKinds.Numeric;

    /// <summary>Share of rows whose value was missing or unreadable (imputed) in the dataset.</summary>
    public double MissingRate { get; set; }

    /// <summary>Numeric: the one feature; datetime: one per part. Each with its quantile bins.</summary>
    public List<BinnedFeature> Features { get; set; } = [];

    /// <summary>Categorical: the model's categories then <c>*other*</c> (rare train categories and missing values); boolean: <c>false</c>, <c>true</c>.</summary>
    public List<string> Categories { get; set; } = [];

    /// <summary>Share of train rows per entry of <see cref="Categories"/>.</summary>
    public List<double> Shares { get; set; } = [];
}

/// <summary>Quantile bins of one encoded feature on the train split.</summary>
public sealed class BinnedFeature
{
    public string Feature { get; set; } = "";

    /// <summary>Ascending cut points: bin 0 is (-∞, edges[0]], bin i is (edges[i-1], edges[i]], the last is (edges[^1], +∞).</summary>
    public List<double> Edges { get; set; } = [];

    /// <summary>Share of train rows per bin (<c>Edges.Count + 1</c> entries).</summary>
    public List<double> Shares { get; set; } = [];

    public double Min { get; set; }

    public double Max { get; set; }
}

/// <summary>
/// <c>monitoring/{model}/drift/{yyyy-MM-dd}.json</c>: observed data of a model's current version over a window compared
/// with its <see cref="TrainingBaseline"/>.
/// </summary>
public sealed class DriftReport
{
    public string Model { get; set; } = "";

    public string Version { get; set; } = "";

    public DriftStatus Status { get; set; }

    /// <summary>Why the model has its status, in a sentence.</summary>
    public string Message { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset WindowStart { get; set; }

    public DateTimeOffset WindowEnd { get; set; }

    /// <summary>Observed rows compared (prediction logs and batch outputs).</summary>
    public long Rows { get; set; }

    public DriftSources Sources { get; set; } = new();

    public DriftThresholds Thresholds { get; set; } = new();

    /// <summary>Columns whose status is <see cref="DriftStatus.Drifted"/>.</summary>
    public List<string> DriftedColumns { get; set; } = [];

    public List<ColumnDrift> Columns { get; set; } = [];

    /// <summary>The model's predictions on the observed rows against its predictions on the test split.</summary>
    public ColumnDrift? Predictions { get; set; }

    /// <summary>Live accuracy or R² from labelled outcomes (<c>outcomes/{model}/</c>) joined to the observed rows by id; null when none were uploaded.</summary>
    public LiveOutcomes? Outcomes { get; set; }

    /// <summary>Whether a retrain was requested (<c>dataset.json</c> <c>retrainOnDrift</c>), and why or why not.</summary>
    public RetrainDecision? Retrain { get; set; }
}

/// <summary>
/// Labelled outcomes uploaded after scoring, joined by id to the observed rows the report read (batch outputs and
/// prediction logs): the live quality next to the test split's.
/// </summary>
public sealed class LiveOutcomes
{
    /// <summary>The column that joins outcomes to observed rows: the dataset's identifier column, else <c>id</c>.</summary>
    public string IdColumn { get; set; } = "";

    /// <summary>The label column: the model's target, named as in training.</summary>
    public string LabelColumn { get; set; } = "";

    /// <summary><c>accuracy</c> (classification) or <c>r2</c> (regression).</summary>
    public string Metric { get; set; } = "";

    /// <summary>The metric over the matched rows; null when no row matched (or, for R², the outcomes do not vary).</summary>
    public double? Live { get; set; }

    /// <summary>The same metric on the test split, from the model manifest.</summary>
    public double? Test { get; set; }

    public int Files { get; set; }

    /// <summary>Outcome rows read (with an id and a label).</summary>
    public long Rows { get; set; }

    /// <summary>Outcome rows whose id matched an observed row's: the rows the live metric is computed from.</summary>
    public long Matched { get; set; }

    /// <summary>Outcome ids that matched no observed row read (scored outside the window, or not read: see <see cref="DriftSources.Truncated"/>).</summary>
    public long UnmatchedOutcomes { get; set; }

    /// <summary>Outcome rows whose id came again (the last one counts).</summary>
    public long DuplicateIds { get; set; }

    /// <summary>Outcome rows without an id or a readable label (regression: not a number).</summary>
    public long UnreadableRows { get; set; }

    /// <summary><c>Drift:MaxOutcomeRows</c> stopped the reading of outcome files; <see cref="TruncatedBy"/> says what was left unread.</summary>
    public bool Truncated { get; set; }

    public string? TruncatedBy { get; set; }

    /// <summary>Files that could not be used (a missing column, unreadable content), each with why.</summary>
    public List<string> Problems { get; set; } = [];
}

/// <summary>What the drift run decided about retraining, and why.</summary>
public sealed class RetrainDecision
{
    public RetrainOutcome Outcome { get; set; }

    /// <summary>Why, in a sentence.</summary>
    public string Message { get; set; } = "";

    /// <summary>The dataset that trained the version, and its version.</summary>
    public string? Dataset { get; set; }

    public string? DatasetVersion { get; set; }

    /// <summary>Files of <c>raw/{dataset}/</c> added or changed since that version (at most 20 named; <see cref="NewFileCount"/> counts them all).</summary>
    public List<string> NewFiles { get; set; } = [];

    public int NewFileCount { get; set; }

    /// <summary>The marker recording the request (<c>monitoring/{model}/drift/retrain/{fingerprint}.json</c>).</summary>
    public string? Marker { get; set; }

    /// <summary>When the request for these files was sent (this run, or an earlier one).</summary>
    public DateTimeOffset? RequestedAt { get; set; }
}

/// <summary>The marker of one retrain request: which files, when, and the event sent.</summary>
public sealed class RetrainMarker
{
    public string Model { get; set; } = "";

    public string Dataset { get; set; } = "";

    public DateTimeOffset RequestedAt { get; set; }

    /// <summary>The blob the BlobCreated event on <c>blob-created</c> named.</summary>
    public string Event { get; set; } = "";

    public List<string> Files { get; set; } = [];
}

[JsonConverter(typeof(JsonStringEnumConverter<RetrainOutcome>))]
public enum RetrainOutcome
{
    /// <summary>The model is not judged drifted: no retrain wanted.</summary>
    [JsonStringEnumMemberName("not-drifted")]
    NotDrifted,

    /// <summary>Drifted, but the dataset's <c>dataset.json</c> does not ask for <c>retrainOnDrift</c>.</summary>
    [JsonStringEnumMemberName("off")]
    Off,

    /// <summary>Drifted and asked for, but no file was added or changed since the version's dataset: nothing to retrain on.</summary>
    [JsonStringEnumMemberName("no-new-data")]
    NoNewData,

    /// <summary>A rebuild of the dataset was requested by this run.</summary>
    [JsonStringEnumMemberName("requested")]
    Requested,

    /// <summary>The same new files were requested by an earlier run (its marker exists): nothing sent again.</summary>
    [JsonStringEnumMemberName("already-requested")]
    AlreadyRequested,

    /// <summary>
    /// The files added since the version's dataset are already in a newer dataset version, whose training the upload
    /// requested and whose challenger the gate has judged (or is judging): a rebuild would train the same data again.
    /// </summary>
    [JsonStringEnumMemberName("already-built")]
    AlreadyBuilt,

    /// <summary>The version's dataset, or its <c>dataset.json</c>, cannot be read: nothing sent.</summary>
    [JsonStringEnumMemberName("unavailable")]
    Unavailable,
}

/// <summary>What was read, and whether a limit cut it short.</summary>
public sealed class DriftSources
{
    public int PredictionLogFiles { get; set; }

    public long PredictionLogRows { get; set; }

    public int BatchFiles { get; set; }

    public long BatchRows { get; set; }

    /// <summary>Files that could not be read to their end (corrupt gzip, JSON or Parquet): what they held before the damage is counted.</summary>
    public int UnreadableFiles { get; set; }

    /// <summary>Bytes downloaded (compressed, as stored).</summary>
    public long Bytes { get; set; }

    /// <summary>A limit (<c>Drift:MaxRows</c> or <c>Drift:MaxBytes</c>) stopped the reading; the report covers the newest data read.</summary>
    public bool Truncated { get; set; }

    /// <summary>Which limit, and what was left unread.</summary>
    public string? TruncatedBy { get; set; }
}

/// <summary>The thresholds the report was judged by (<c>Drift:*</c> settings).</summary>
public sealed class DriftThresholds
{
    public double PsiWarning { get; set; }

    public double PsiDrift { get; set; }

    public double MissingRateChange { get; set; }

    public double UnknownShareChange { get; set; }

    public double RangeViolationShare { get; set; }

    public long MinRows { get; set; }
}

/// <summary>One column's (or the predictions') observed distribution against the baseline.</summary>
public sealed class ColumnDrift
{
    public string Column { get; set; } = "";

    public string Kind { get; set; } = "";

    public DriftStatus Status { get; set; }

    /// <summary>
    /// Population stability index (datetime: the largest of its parts'); null when it does not apply: the column was
    /// missing in every training row, so there is no training distribution to compare with (see <see cref="Note"/>).
    /// </summary>
    public double? Psi { get; set; }

    /// <summary>Why a measure does not apply, when one does not.</summary>
    public string? Note { get; set; }

    public double TrainMissingRate { get; set; }

    public double MissingRate { get; set; }

    /// <summary>Categorical: share of train rows in <c>*other*</c> (rare categories and missing values).</summary>
    public double? TrainOtherShare { get; set; }

    /// <summary>Categorical: share of observed present values that are not among the model's categories (they go to <c>*other*</c>).</summary>
    public double? UnknownShare { get; set; }

    /// <summary>Numeric and datetime: share of observed present values outside the train split's [min, max].</summary>
    public double? RangeViolationShare { get; set; }

    /// <summary>What crossed a threshold, in words.</summary>
    public List<string> Reasons { get; set; } = [];

    /// <summary>
    /// Expected (train or test split) against observed share per bin or category; the predictions add <c>*other*</c> for
    /// labels the model's manifest does not list (expected share 0).
    /// </summary>
    public List<DriftBin> Bins { get; set; } = [];
}

public sealed class DriftBin
{
    /// <summary>The category, or the bin as an interval, e.g. <c>(1.5, 2.25]</c>; datetime parts prefix their part.</summary>
    public string Bin { get; set; } = "";

    public double Expected { get; set; }

    public double Observed { get; set; }
}

[JsonConverter(typeof(JsonStringEnumConverter<DriftStatus>))]
public enum DriftStatus
{
    /// <summary>Nothing crossed a threshold.</summary>
    [JsonStringEnumMemberName("ok")]
    Ok,

    /// <summary>A PSI between the warning and the drift threshold.</summary>
    [JsonStringEnumMemberName("warning")]
    Warning,

    /// <summary>A threshold of drift was crossed.</summary>
    [JsonStringEnumMemberName("drifted")]
    Drifted,

    /// <summary>Too few observed rows (<c>Drift:MinRows</c>) to judge.</summary>
    [JsonStringEnumMemberName("insufficient-data")]
    InsufficientData,
}

/// <summary>Message on queue <c>drift-requests</c>: write <see cref="Model"/>'s drift report now.</summary>
public sealed class DriftRequest
{
    public string Model { get; set; } = "";
}
