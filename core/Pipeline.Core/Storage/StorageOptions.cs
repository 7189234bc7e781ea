using System.ComponentModel.DataAnnotations;

namespace Pipeline.Storage;

/// <summary>
/// Where the storage account is. Locally a connection string (Azurite: <c>UseDevelopmentStorage=true</c>);
/// in Azure the service URIs, authenticated with the app's managed identity.
/// </summary>
public sealed class StorageOptions : IValidatableObject
{
    public const string Section = "Storage";

    public string? ConnectionString { get; set; }

    public Uri? BlobServiceUri { get; set; }

    public Uri? QueueServiceUri { get; set; }

    /// <summary>Client id of a user-assigned managed identity (Azure only).</summary>
    public string? ManagedIdentityClientId { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrWhiteSpace(ConnectionString) && (BlobServiceUri is null || QueueServiceUri is null))
        {
            yield return new ValidationResult(
                "Set Storage:ConnectionString (local, e.g. UseDevelopmentStorage=true) or both Storage:BlobServiceUri and Storage:QueueServiceUri (Azure, managed identity).",
                [nameof(ConnectionString), nameof(BlobServiceUri), nameof(QueueServiceUri)]);
        }
    }
}
