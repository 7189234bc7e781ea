using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Contracts;

/// <summary>Source-generated JSON for every document and message of the storage contract (camelCase).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BlobCreatedEvent))]
[JsonSerializable(typeof(TrainRequest))]
[JsonSerializable(typeof(DatasetSpec))]
[JsonSerializable(typeof(DatasetManifest))]
[JsonSerializable(typeof(RejectionReport))]
[JsonSerializable(typeof(ValidationReport))]
[JsonSerializable(typeof(PendingBuild))]
[JsonSerializable(typeof(ModelManifest))]
[JsonSerializable(typeof(CurrentPointer))]
[JsonSerializable(typeof(RunStatus))]
[JsonSerializable(typeof(ScoringReport))]
[JsonSerializable(typeof(ScoreJobRequest))]
[JsonSerializable(typeof(DriftReport))]
[JsonSerializable(typeof(RetrainMarker))]
[JsonSerializable(typeof(RetrainOutcome))]
[JsonSerializable(typeof(DriftRequest))]
[JsonSerializable(typeof(string))]
public sealed partial class PipelineJson : JsonSerializerContext;
