using System.Text.Json.Nodes;
using Pipeline.Contracts;

namespace Pipeline.Tests.Contracts;

public sealed class BlobEventMessageTests
{
    /// <summary>
    /// A blob of the dead-letter container as Event Grid writes it: a JSON array of events, each the original event with
    /// the dead-letter fields added (Event Grid docs, "Dead letter and retry policies").
    /// </summary>
    private const string DeadLetterBlob = """
        [
          {
            "id": "6f3c1b7a-0000-0000-0000-000000000001",
            "topic": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stexample",
            "subject": "/blobServices/default/containers/raw/blobs/iris/iris.csv",
            "eventType": "Microsoft.Storage.BlobCreated",
            "eventTime": "2026-12-07T10:00:00.0000000Z",
            "data": { "api": "PutBlob", "contentType": "text/csv", "contentLength": 4551, "blobType": "BlockBlob",
                      "url": "https://stexample.blob.core.windows.net/raw/iris/iris.csv" },
            "dataVersion": "",
            "metadataVersion": "1",
            "deadLetterReason": "MaxDeliveryAttemptsExceeded",
            "deliveryAttempts": 30,
            "lastDeliveryOutcome": "Forbidden",
            "publishTime": "2026-12-07T10:00:01.0000000Z",
            "lastDeliveryAttemptTime": "2026-12-08T09:59:00.0000000Z"
          },
          {
            "id": "6f3c1b7a-0000-0000-0000-000000000002",
            "topic": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stexample",
            "subject": "/blobServices/default/containers/raw/blobs/sales.2024.csv",
            "eventType": "Microsoft.Storage.BlobCreated",
            "eventTime": "2026-12-07T10:00:02.0000000Z",
            "data": { "api": "PutBlob", "blobType": "BlockBlob", "url": "https://stexample.blob.core.windows.net/raw/sales.2024.csv" },
            "dataVersion": "",
            "metadataVersion": "1",
            "deadLetterReason": "TimeToLiveExceeded",
            "deliveryAttempts": 12,
            "lastDeliveryOutcome": "Busy"
          }
        ]
        """;

    [Fact]
    public void Decode_DeadLetteredEventsReplayedOneMessageEach_ReadsEachEventAndIgnoresTheDeadLetterFields()
    {
        // The replay in docs/deploy.md puts each array element on blob-created as compact JSON (jq -c '.[]').
        var messages = JsonNode.Parse(DeadLetterBlob)!.AsArray().Select(element => element!.ToJsonString()).ToList();

        var events = messages.Select(BlobEventMessage.Decode).ToList();

        Assert.All(events, blobEvent => Assert.Equal(BlobCreatedEvent.EventTypeName, blobEvent?.EventType));
        Assert.Equal(("raw", "iris/iris.csv"), events[0]!.TryGetBlob());
        Assert.Equal(("raw", "sales.2024.csv"), events[1]!.TryGetBlob());
        Assert.Equal("6f3c1b7a-0000-0000-0000-000000000002", events[1]!.Id);
    }
}
