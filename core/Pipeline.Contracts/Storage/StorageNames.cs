namespace Pipeline.Storage;

/// <summary>Container and queue names that are part of the product's storage contract (see README, "Storage contract").</summary>
public static class StorageNames
{
    public const string RawContainer = "raw";
    public const string DatasetsContainer = "datasets";
    public const string ModelsContainer = "models";
    public const string RunsContainer = "runs";

    /// <summary>Batch-scoring inputs: <c>score/{model}[@{version}]/{file}</c>.</summary>
    public const string ScoreContainer = "score";

    /// <summary>Batch-scoring outputs and their reports: <c>predictions/{model}/{file}</c>, <c>predictions/{model}/{file}.report.json</c>.</summary>
    public const string PredictionsContainer = "predictions";

    /// <summary>Prediction logs of the serving app: <c>monitoring/{model}/{version}/{yyyy-MM-dd}/….jsonl.gz</c>.</summary>
    public const string MonitoringContainer = "monitoring";

    public const string BlobCreatedQueue = "blob-created";
    public const string TrainRequestsQueue = "train-requests";

    /// <summary>BlobCreated events of container <c>score</c> (Event Grid's second subscription): one message a file to score.</summary>
    public const string ScoreRequestsQueue = "score-requests";

    /// <summary>
    /// Files too large for the functions app, handed to the scoring job (a Container Apps job execution; locally the same
    /// process polling Azurite): one <c>ScoreJobRequest</c> a file.
    /// </summary>
    public const string ScoreJobsQueue = "score-jobs";
    public const string PoisonSuffix = "-poison";

    public const string DatasetSpecFile = "dataset.json";
    public const string ManifestFile = "manifest.json";
    public const string CurrentPointerFile = "current.json";
    public const string RejectionsFolder = "rejections";
    public const string ModelFile = "model.onnx";

    /// <summary><c>datasets/{dataset}/pending.json</c>: a build is scheduled (the debounce of a burst of uploads).</summary>
    public const string PendingMarkerFile = "pending.json";

    /// <summary>A dataset version's validation report and its human-readable summary.</summary>
    public const string ValidationReportFile = "report.json";
    public const string ValidationSummaryFile = "report.md";

    /// <summary>A model version's training report (its plots are listed in the model manifest's <c>report</c>).</summary>
    public const string TrainingReportFile = "report.md";

    public static string Poison(string queueName) => queueName + PoisonSuffix;

    /// <summary><c>raw/{dataset}/{file}</c>: an upload to a dataset's folder.</summary>
    public static string RawFilePath(string dataset, string file) => $"{dataset}/{file}";

    /// <summary><c>datasets/{dataset}/</c>, <c>models/{model}/</c>: everything of one dataset or model in its container.</summary>
    public static string FolderPrefix(string name) => $"{name}/";

    /// <summary><c>datasets/{dataset}/{version}/{file}</c> or <c>models/{model}/{version}/{file}</c>.</summary>
    public static string VersionFilePath(string name, string version, string file) => $"{name}/{version}/{file}";

    /// <summary><c>datasets/{dataset}/pending.json</c>.</summary>
    public static string PendingMarkerPath(string dataset) => $"{dataset}/{PendingMarkerFile}";

    /// <summary><c>datasets/{dataset}/rejections/</c>.</summary>
    public static string RejectionsPrefix(string dataset) => $"{dataset}/{RejectionsFolder}/";

    /// <summary><c>datasets/{dataset}/rejections/{time}-{file}</c> without extension: the report is <c>.json</c>, its summary <c>.md</c>.</summary>
    public static string RejectionPath(string dataset, DateTimeOffset rejectedAt, string blob) =>
        RejectionsPrefix(dataset) + rejectedAt.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture) + "-" + Path.GetFileName(blob);

    public static string DatasetManifestPath(string dataset, string version) => VersionFilePath(dataset, version, ManifestFile);

    public static string ModelManifestPath(string model, string version) => VersionFilePath(model, version, ManifestFile);

    public static string CurrentPointerPath(string model) => $"{model}/{CurrentPointerFile}";

    public const string RunStatusFile = "status.json";
    public const string CheckpointFile = "checkpoint.json";
    public const string LatestRunsFolder = "latest";

    /// <summary><c>runs/{runId}/status.json</c>.</summary>
    public static string RunStatusPath(string runId) => $"{runId}/{RunStatusFile}";

    /// <summary><c>runs/{runId}/checkpoint.json</c>: search progress, weights and optimizer state of an interrupted run.</summary>
    public static string RunCheckpointPath(string runId) => $"{runId}/{CheckpointFile}";

    /// <summary><c>runs/latest/{model}.json</c>: the status of the model's most recent run.</summary>
    public static string LatestRunPath(string model) => $"{LatestRunsFolder}/{model}.json";

    /// <summary>Run ids: a valid name (see <see cref="IsValidName"/>) that is not <see cref="LatestRunsFolder"/>.</summary>
    public static bool IsValidRunId(string? runId) => IsValidName(runId) && runId != LatestRunsFolder;

    /// <summary>
    /// The dataset a file uploaded directly under <c>raw/</c> makes: its whole name without the data extension (and
    /// <c>.gz</c>), lower-cased, any other character than a letter, digit, '-' or '_' as '-'; e.g. <c>raw/Sales.2024.csv</c>
    /// makes dataset <c>sales-2024</c>. Root files whose names map to the same dataset make it together.
    /// </summary>
    public static string DatasetOfRootFile(string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        var stem = fileName.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? fileName[..^3] : fileName;
        foreach (var extension in DataExtensions)
        {
            if (stem.Length > extension.Length && stem.EndsWith(extension, StringComparison.OrdinalIgnoreCase))
            {
                stem = stem[..^extension.Length];
                break;
            }
        }

        var name = new string([.. stem.ToLowerInvariant().Select(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_' ? c : '-')])
            .TrimStart('-', '_');
        return name.Length <= 63 ? name : name[..63];
    }

    /// <summary>File extensions the readers know (each may be followed by <c>.gz</c>).</summary>
    public static readonly IReadOnlyList<string> DataExtensions = [".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".parquet"];

    /// <summary>Version folder names: 1–128 characters of letters, digits, '.', '-' and '_', starting with a letter or digit, no "..".</summary>
    public static bool IsValidVersion(string? version) =>
        !string.IsNullOrEmpty(version) && version.Length <= 128 && char.IsAsciiLetterOrDigit(version[0]) && !version.Contains("..", StringComparison.Ordinal) &&
        version.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_');

    /// <summary>Queue of on-demand drift reports: <c>{"model":"…"}</c> (the timer covers every model).</summary>
    public const string DriftRequestsQueue = "drift-requests";

    /// <summary>Folder of a model's drift reports in container <c>monitoring</c>, beside its version folders of prediction logs.</summary>
    public const string DriftFolder = "drift";

    /// <summary>Prediction logs of one model version and day: <c>{model}/{version}/{yyyy-MM-dd}/</c> in container <c>monitoring</c>.</summary>
    public static string PredictionLogPrefix(string model, string version, DateOnly day) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{model}/{version}/{day:yyyy-MM-dd}/");

    /// <summary>A drift report in container <c>monitoring</c>: <c>{model}/drift/{yyyy-MM-dd}{extension}</c> (<c>.json</c> or <c>.md</c>).</summary>
    public static string DriftReportPath(string model, DateOnly day, string extension) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{model}/{DriftFolder}/{day:yyyy-MM-dd}{extension}");

    /// <summary>
    /// Retrain-on-drift marker in container <c>monitoring</c>: <c>{model}/drift/retrain/{fingerprint}.json</c>, created
    /// (If-None-Match: *) before a retrain is requested for the set of new files the fingerprint names, so the same data is
    /// requested once.
    /// </summary>
    public static string RetrainMarkerPath(string model, string fingerprint) => $"{model}/{DriftFolder}/retrain/{fingerprint}.json";

    /// <summary>Container of labelled outcomes uploaded after scoring: <c>outcomes/{model}/{file}</c> (id and target columns).</summary>
    public const string OutcomesContainer = "outcomes";

    /// <summary>Suffix of a batch-scoring report beside its output: <c>predictions/{model}/{file}.report.json</c>.</summary>
    public const string ScoringReportSuffix = ".report.json";

    /// <summary>
    /// Splits a blob name of container <c>score</c>, <c>{model}[@{version}]/{file}</c>, into the model, the version asked
    /// for (null: the current one) and the file's path under the model folder. False when the name has no model folder.
    /// </summary>
    public static bool TryParseScoreBlob(string blobName, out string model, out string? version, out string file)
    {
        ArgumentNullException.ThrowIfNull(blobName);
        var slash = blobName.IndexOf('/', StringComparison.Ordinal);
        model = slash > 0 ? blobName[..slash] : "";
        version = null;
        file = slash > 0 ? blobName[(slash + 1)..] : blobName;
        if (slash <= 0 || file.Length == 0)
        {
            return false;
        }

        var at = model.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            version = model[(at + 1)..];
            model = model[..at];
        }

        return true;
    }

    /// <summary>Dataset and model names: 1–63 characters of lower-case letters, digits, '-' and '_', starting with a letter or digit.</summary>
    public static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 63 && char.IsAsciiLetterOrDigit(name[0]) &&
        name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_');
}
