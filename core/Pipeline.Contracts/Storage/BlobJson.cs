using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace Pipeline.Storage;

/// <summary>Reads and writes the JSON documents of the storage contract.</summary>
public static class BlobJson
{
    /// <summary>The document and its ETag, or <c>null</c> when the blob does not exist.</summary>
    public static async Task<(T Value, ETag ETag)?> ReadAsync<T>(BlobClient blob, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            var result = await blob.DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            var value = result.Value.Content.ToObjectFromJson(typeInfo)
                ?? throw new InvalidDataException($"Blob {blob.BlobContainerName}/{blob.Name} holds JSON null.");
            return (value, result.Value.Details.ETag);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>Uploads a document; <paramref name="conditions"/> makes the write conditional (If-Match / If-None-Match).</summary>
    public static async Task<ETag> WriteAsync<T>(BlobClient blob, T value, JsonTypeInfo<T> typeInfo, BlobRequestConditions? conditions, CancellationToken cancellationToken)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(value, typeInfo);
        var options = new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
            Conditions = conditions,
        };
        var response = await blob.UploadAsync(new BinaryData(bytes), options, cancellationToken).ConfigureAwait(false);
        return response.Value.ETag;
    }

    private static T? ToObjectFromJson<T>(this BinaryData data, JsonTypeInfo<T> typeInfo) =>
        JsonSerializer.Deserialize(data.ToMemory().Span, typeInfo);
}
