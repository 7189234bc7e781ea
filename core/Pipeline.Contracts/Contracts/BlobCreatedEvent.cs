using System.Text.Json.Serialization;

namespace Pipeline.Contracts;

/// <summary>An Event Grid <c>Microsoft.Storage.BlobCreated</c> event (Event Grid schema), as Event Grid writes it to a storage queue.</summary>
public sealed class BlobCreatedEvent
{
    public const string EventTypeName = "Microsoft.Storage.BlobCreated";

    public string Id { get; set; } = "";

    /// <summary>Resource id of the storage account.</summary>
    public string Topic { get; set; } = "";

    /// <summary><c>/blobServices/default/containers/{container}/blobs/{path}</c>.</summary>
    public string Subject { get; set; } = "";

    public string EventType { get; set; } = "";

    public DateTimeOffset EventTime { get; set; }

    public BlobCreatedData Data { get; set; } = new();

    public string DataVersion { get; set; } = "";

    public string MetadataVersion { get; set; } = "1";

    /// <summary>
    /// Not Event Grid's: set only on the Preprocess function's own delayed copy of an event (the debounce of a burst of
    /// uploads): the ETag of the dataset's pending marker that the copy stands for.
    /// </summary>
    [JsonPropertyName("pipelineDebounce")]
    public string? DebounceToken { get; set; }

    /// <summary>
    /// Not Event Grid's: the W3C <c>traceparent</c> of the handling that queued this delayed copy, so the build it stands for
    /// continues the upload's trace.
    /// </summary>
    [JsonPropertyName("pipelineTraceparent")]
    public string? TraceParent { get; set; }

    /// <summary>The event Event Grid writes for a blob put into <paramref name="container"/> (<c>PutBlob</c>, a block blob).</summary>
    public static BlobCreatedEvent ForBlob(string topic, string container, string blobName, Uri url, string etag, string? contentType, long contentLength,
        DateTimeOffset eventTime, string sequencer) => new()
    {
        Id = Guid.NewGuid().ToString(),
        Topic = topic,
        Subject = $"/blobServices/default/containers/{container}/blobs/{blobName}",
        EventType = EventTypeName,
        EventTime = eventTime,
        DataVersion = "",
        MetadataVersion = "1",
        Data = new BlobCreatedData
        {
            Api = "PutBlob",
            ClientRequestId = Guid.NewGuid().ToString(),
            RequestId = Guid.NewGuid().ToString(),
            ETag = etag,
            ContentType = contentType ?? "application/octet-stream",
            ContentLength = contentLength,
            BlobType = "BlockBlob",
            Url = url?.ToString() ?? "",
            Sequencer = sequencer,
        },
    };

    /// <summary>Container and blob name taken from <see cref="Subject"/>; null when the subject is not a blob subject.</summary>
    public (string Container, string BlobName)? TryGetBlob()
    {
        const string prefix = "/blobServices/default/containers/";
        if (!Subject.StartsWith(prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var rest = Subject[prefix.Length..];
        var marker = rest.IndexOf("/blobs/", StringComparison.Ordinal);
        if (marker <= 0 || marker + 7 >= rest.Length)
        {
            return null;
        }

        return (rest[..marker], rest[(marker + 7)..]);
    }
}

public sealed class BlobCreatedData
{
    public string Api { get; set; } = "";

    public string ClientRequestId { get; set; } = "";

    public string RequestId { get; set; } = "";

    [JsonPropertyName("eTag")]
    public string ETag { get; set; } = "";

    public string ContentType { get; set; } = "";

    public long ContentLength { get; set; }

    public string BlobType { get; set; } = "BlockBlob";

    public string Url { get; set; } = "";

    public string Sequencer { get; set; } = "";
}

/// <summary><c>datasets/{dataset}/pending.json</c>: a build of the dataset is scheduled (debounce of a burst of uploads).</summary>
public sealed class PendingBuild
{
    public DateTimeOffset CreatedAt { get; set; }
}
