using Azure.Identity;
using Azure.Storage.Queues;
using Microsoft.Extensions.Azure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Pipeline.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="Azure.Storage.Blobs.BlobServiceClient"/> and <see cref="QueueServiceClient"/> from the
    /// <c>Storage</c> section: a connection string locally, service URIs with managed identity in Azure.
    /// Queue messages are read and written unencoded, as Event Grid writes them.
    /// </summary>
    public static IServiceCollection AddPipelineStorage(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(StorageOptions.Section);
        services.AddOptions<StorageOptions>().Bind(section).ValidateDataAnnotations().ValidateOnStart();

        var options = section.Get<StorageOptions>() ?? new StorageOptions();
        services.AddAzureClients(clients =>
        {
            if (!string.IsNullOrWhiteSpace(options.ConnectionString))
            {
                clients.AddBlobServiceClient(options.ConnectionString);
                clients.AddQueueServiceClient(options.ConnectionString)
                    .ConfigureOptions(o => o.MessageEncoding = QueueMessageEncoding.None);
            }
            else
            {
                if (options.BlobServiceUri is not null)
                {
                    clients.AddBlobServiceClient(options.BlobServiceUri);
                }

                if (options.QueueServiceUri is not null)
                {
                    clients.AddQueueServiceClient(options.QueueServiceUri)
                        .ConfigureOptions(o => o.MessageEncoding = QueueMessageEncoding.None);
                }

                var clientId = string.IsNullOrWhiteSpace(options.ClientId) ? configuration["AZURE_CLIENT_ID"] : options.ClientId;
                clients.UseCredential(new ManagedIdentityCredential(
                    string.IsNullOrWhiteSpace(clientId)
                        ? ManagedIdentityId.SystemAssigned
                        : ManagedIdentityId.FromUserAssignedClientId(clientId)));
            }
        });
        return services;
    }
}
