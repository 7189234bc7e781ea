using System.ComponentModel.DataAnnotations;

namespace Pipeline.Cli.Target;

/// <summary>
/// Where the pipeline is: a storage account (Azurite's development account by default, a connection string, or an Azure
/// account name used with the signed-in identity) and the serving app (URL, function key, admin key). Resolved from the
/// command line, the environment and <c>azd env get-values</c> output by <see cref="TargetResolver"/>, then validated.
/// </summary>
public sealed class TargetOptions : IValidatableObject
{
    /// <summary>Azurite's well-known development account on 127.0.0.1:10000-10002.</summary>
    public const string DevelopmentStorage = "UseDevelopmentStorage=true";

    /// <summary>Where <c>./run-local.sh</c> serves the HTTP API, and the key it checks.</summary>
    public static readonly Uri LocalServingUrl = new("http://127.0.0.1:7071");

    public const string LocalKey = "local-development-key";

    /// <summary>A storage connection string (local, or an account key): mutually exclusive with <see cref="Account"/>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>An Azure storage account name, used with <c>DefaultAzureCredential</c> (az login, azd auth login, environment, managed identity).</summary>
    [RegularExpression("^[a-z0-9]{3,24}$", ErrorMessage = "--account must be a storage account name: 3-24 lower-case letters and digits.")]
    public string? Account { get; set; }

    /// <summary>The blob endpoint of <see cref="Account"/>; <c>https://{account}.blob.core.windows.net</c> unless azd names another.</summary>
    public Uri? BlobEndpoint { get; set; }

    public Uri? ServingUrl { get; set; }

    /// <summary>Function key sent as <c>x-functions-key</c>.</summary>
    [StringLength(256, MinimumLength = 1, ErrorMessage = "--key must be 1-256 characters.")]
    public string? Key { get; set; }

    /// <summary>Key for the admin operations (rollback, promote): the app's master key in Azure; locally the function key.</summary>
    [StringLength(256, MinimumLength = 1, ErrorMessage = "--admin-key must be 1-256 characters.")]
    public string? AdminKey { get; set; }

    public bool IsAzure => Account is not null;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Account is not null && ConnectionString is not null)
        {
            yield return new ValidationResult("Pass either --account (Azure, signed-in identity) or --connection-string, not both.");
        }

        if (Account is null && string.IsNullOrWhiteSpace(ConnectionString))
        {
            yield return new ValidationResult("Name the storage: --connection-string, or --account for an Azure account.");
        }

        if (ServingUrl is { } url && (!url.IsAbsoluteUri || url.Scheme is not ("http" or "https")))
        {
            yield return new ValidationResult($"--serving-url must be an absolute http(s) URL, not '{url}'.");
        }

        if (BlobEndpoint is { } endpoint && (!endpoint.IsAbsoluteUri || endpoint.Scheme != "https"))
        {
            yield return new ValidationResult($"The blob endpoint must be an absolute https URL, not '{endpoint}'.");
        }
    }

    /// <summary>Checks the options; a <see cref="CliException"/> (usage) lists every problem.</summary>
    public void EnsureValid()
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(this, new ValidationContext(this), results, validateAllProperties: true))
        {
            throw new CliException(ExitCode.Usage, string.Join(Environment.NewLine, results.Select(r => r.ErrorMessage)));
        }
    }
}
