using System.Text.RegularExpressions;

[assembly: AssemblyFixture(typeof(Pipeline.Infra.Tests.DeploymentSnapshot))]

namespace Pipeline.Infra.Tests;

/// <summary>
/// The resources infra/main.bicep would deploy with its default parameters, as <c>bicep snapshot</c> predicts them:
/// every module expanded, every expression the Bicep CLI can evaluate before deployment evaluated (names, resource IDs,
/// parameter defaults, conditions, loops). What only exists at deployment (an identity's principal ID, an account's
/// endpoints) stays a <c>reference(...)</c> expression that names the resource it reads.
/// </summary>
public sealed partial class DeploymentSnapshot
{
    public const string SubscriptionId = "00000000-0000-0000-0000-000000000000";
    public const string EnvironmentName = "snapshot";

    /// <summary>AZURE_PRINCIPAL_ID of the snapshot, so the deployer's optional role assignments are included.</summary>
    public const string DeployerPrincipalId = "11111111-1111-1111-1111-111111111111";

    public DeploymentSnapshot()
    {
        var directory = Directory.CreateTempSubdirectory("pipeline-snapshot-");
        try
        {
            var parametersFile = Path.Combine(directory.FullName, "snapshot.bicepparam");
            // A .bicepparam file must name its template with a relative path.
            var mainBicep = Path.GetRelativePath(directory.FullName, RepositoryPaths.MainBicep).Replace('\\', '/');
            File.WriteAllLines(parametersFile,
            [
                $"using '{mainBicep}'",
                $"param environmentName = '{EnvironmentName}'",
                "param location = 'westus3'",
                $"param principalId = '{DeployerPrincipalId}'",
            ]);
            var result = BicepCli.Run(
                "snapshot", parametersFile, "--mode", "overwrite",
                "--subscription-id", SubscriptionId, "--tenant-id", SubscriptionId, "--location", "westus3");
            var snapshotFile = Path.ChangeExtension(parametersFile, ".snapshot.json");
            if (result.ExitCode != 0 || !File.Exists(snapshotFile))
            {
                throw new InvalidOperationException($"bicep snapshot failed ({result.ExitCode}):\n{result.Output}");
            }

            using var document = JsonDocument.Parse(File.ReadAllText(snapshotFile));
            Resources = [.. document.RootElement.GetProperty("predictedResources").EnumerateArray().Select(element => new SnapshotResource(element.Clone()))];
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    public IReadOnlyList<SnapshotResource> Resources { get; }

    public IEnumerable<SnapshotResource> OfType(string type) =>
        Resources.Where(resource => string.Equals(resource.Type, type, StringComparison.OrdinalIgnoreCase));

    public IEnumerable<SnapshotResource> StorageAccounts => OfType("Microsoft.Storage/storageAccounts");

    /// <summary>The storage account the Event Grid system topic publishes: the pipeline's data account.</summary>
    public SnapshotResource PipelineAccount
    {
        get
        {
            var source = Assert.Single(OfType("Microsoft.EventGrid/systemTopics")).Properties.StringAt("source");
            return Assert.Single(StorageAccounts, account => account.Id == source);
        }
    }

    /// <summary>The function app deployed as azd service <paramref name="serviceName"/> (functions or serving).</summary>
    public SnapshotResource App(string serviceName) =>
        Assert.Single(OfType("Microsoft.Web/sites"), site => site.Element.StringAt("tags", "azd-service-name") == serviceName);

    /// <summary>The resource ID of the user-assigned identity an app runs as.</summary>
    public static string IdentityOf(SnapshotResource site) =>
        Assert.Single(site.Element.At("identity", "userAssignedIdentities").EnumerateObject()).Name;

    /// <summary>The storage account whose endpoint an app setting reads (<c>reference('&lt;account id&gt;', ...).primaryEndpoints...</c>).</summary>
    public static string AccountReadBy(SnapshotResource site, string setting)
    {
        var value = Assert.Single(site.Properties.At("siteConfig", "appSettings").EnumerateArray(), s => s.StringAt("name") == setting).StringAt("value");
        return AccountIdOf(value);
    }

    /// <summary>The storage account ID a reference expression reads from.</summary>
    public static string AccountIdOf(string expression)
    {
        var match = StorageReference().Match(expression);
        Assert.True(match.Success, $"'{expression}' reads no storage account.");
        return match.Groups[1].Value;
    }

    public IEnumerable<RoleGrant> RoleAssignments => OfType("Microsoft.Authorization/roleAssignments").Select(RoleGrant.Of);

    /// <summary>The names of the blob containers created in a storage account.</summary>
    public IEnumerable<string> ContainersOf(SnapshotResource account) =>
        OfType("Microsoft.Storage/storageAccounts/blobServices/containers")
            .Where(container => container.Id.StartsWith(account.Id + "/", StringComparison.Ordinal))
            .Select(container => container.Id.Split('/')[^1]);

    [GeneratedRegex(@"reference\('(/subscriptions/[^']+/providers/Microsoft\.Storage/storageAccounts/[^'/]+)'")]
    private static partial Regex StorageReference();
}

public sealed record SnapshotResource(JsonElement Element)
{
    public string Id => Element.StringAt("id");

    public string Type => Element.StringAt("type");

    public string Name => Element.StringAt("name");

    public JsonElement Properties => Element.At("properties");

    public override string ToString() => Id;
}

/// <summary>A role assignment of the snapshot: the scope's resource ID, the principal and the role definition GUID.</summary>
public sealed partial record RoleGrant(string Scope, string Principal, string Role)
{
    public static RoleGrant Of(SnapshotResource assignment)
    {
        // The ID is evaluated when the principal is known before deployment (the deployer's), an extensionResourceId(...)
        // expression when it is an identity's principal ID.
        const string Suffix = "/providers/Microsoft.Authorization/roleAssignments/";
        var expression = ExtensionScope().Match(assignment.Id);
        var evaluated = assignment.Id.LastIndexOf(Suffix, StringComparison.Ordinal);
        Assert.True(expression.Success || evaluated > 0, $"Unrecognised role assignment id {assignment.Id}.");
        var scope = expression.Success ? expression.Groups[1].Value : assignment.Id[..evaluated];
        var principalId = assignment.Properties.StringAt("principalId");
        var identity = IdentityReference().Match(principalId);
        var principal = identity.Success ? identity.Groups[1].Value : principalId;
        var role = assignment.Properties.StringAt("roleDefinitionId").Split('/')[^1];
        return new RoleGrant(scope, principal, role);
    }

    /// <summary>True when the assignment applies to <paramref name="resourceId"/> or anything inside it.</summary>
    public bool IsWithin(string resourceId) =>
        Scope == resourceId || Scope.StartsWith(resourceId + "/", StringComparison.Ordinal);

    [GeneratedRegex(@"^\[extensionResourceId\('([^']+)', 'Microsoft\.Authorization/roleAssignments'")]
    private static partial Regex ExtensionScope();

    /// <summary><c>reference('&lt;identity id&gt;', ...).principalId</c>: the identity's resource ID.</summary>
    [GeneratedRegex(@"^\[reference\('([^']+/Microsoft\.ManagedIdentity/userAssignedIdentities/[^']+)'")]
    private static partial Regex IdentityReference();
}
