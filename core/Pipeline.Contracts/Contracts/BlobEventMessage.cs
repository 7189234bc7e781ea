using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace Pipeline.Contracts;

/// <summary>
/// Reads the <see cref="BlobCreatedEvent"/> a <c>blob-created</c> queue message holds, whichever way it was written: the
/// event's JSON, the JSON as a JSON string (encoded once more by a relay), or either of those base64-encoded. The docs say
/// Event Grid's storage-queue destination writes plain JSON, field reports say base64; the app reads the queue with
/// <c>messageEncoding: none</c> (host.json) and decodes here, so both work.
/// </summary>
public static class BlobEventMessage
{
    /// <summary>The event, or <c>null</c> when the message holds no BlobCreated-shaped JSON object.</summary>
    public static BlobCreatedEvent? Decode(string? message)
    {
        var text = message?.Trim();
        for (var depth = 0; depth < 4 && !string.IsNullOrEmpty(text); depth++)
        {
            switch (text[0])
            {
                case '{':
                    return Deserialize(text);
                case '"':
                    text = Unquote(text);
                    break;
                default:
                    text = FromBase64(text);
                    break;
            }
        }

        return null;
    }

    private static BlobCreatedEvent? Deserialize(string json)
    {
        try
        {
            var blobEvent = JsonSerializer.Deserialize(json, PipelineJson.Default.BlobCreatedEvent);
            return blobEvent is { Subject.Length: > 0, EventType.Length: > 0 } ? blobEvent : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Unquote(string text)
    {
        try
        {
            return JsonSerializer.Deserialize(text, PipelineJson.Default.String)?.Trim();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? FromBase64(string text)
    {
        var bytes = new byte[Base64.GetMaxDecodedFromUtf8Length(text.Length)];
        if (!Convert.TryFromBase64String(text, bytes, out var written))
        {
            return null;
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, 0, written).Trim();
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}
