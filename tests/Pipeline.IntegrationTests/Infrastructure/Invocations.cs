using System.Globalization;
using System.Text.Json.Nodes;
using Pipeline.Contracts;
using Pipeline.Preprocessing;

namespace Pipeline.Tests.Infrastructure;

/// <summary>Event Grid events as they reach the <c>blob-created</c> queue, and the engine run on them.</summary>
public static class Invocations
{
    public static JsonObject BlobCreatedEvent(string container, string blobName) => new()
    {
        ["id"] = Guid.NewGuid().ToString(),
        ["topic"] = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
        ["subject"] = $"/blobServices/default/containers/{container}/blobs/{blobName}",
        ["eventType"] = "Microsoft.Storage.BlobCreated",
        ["eventTime"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        ["data"] = new JsonObject
        {
            ["api"] = "PutBlob",
            ["contentType"] = "text/csv",
            ["contentLength"] = 100,
            ["blobType"] = "BlockBlob",
            ["url"] = $"http://127.0.0.1:10000/devstoreaccount1/{container}/{blobName}",
            ["sequencer"] = "0000000000000000000000000000001",
        },
        ["dataVersion"] = "",
        ["metadataVersion"] = "1",
    };

    /// <summary>Runs the preprocessing engine for a blob in <c>raw</c>, as the Preprocess function does for its event.</summary>
    public static Task<PreprocessOutcome> PreprocessAsync(PreprocessingApp app, string blobName) =>
        PreprocessMessageAsync(app, BlobCreatedEvent("raw", blobName).ToJsonString());

    /// <summary>Runs the preprocessing engine for a <c>blob-created</c> message's text.</summary>
    public static Task<PreprocessOutcome> PreprocessMessageAsync(PreprocessingApp app, string message) =>
        app.Handler.HandleAsync(BlobEventMessage.Decode(message) ?? throw new ArgumentException("Not a BlobCreated event.", nameof(message)), TestContext.Current.CancellationToken);
}
