using System.Text.RegularExpressions;

namespace Pipeline.Infra.Tests;

public sealed partial class RoleAssignmentTests(CompiledTemplate template)
{
    // Built-in role definition IDs (Azure built-in roles reference).
    private const string BlobDataOwner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    private const string BlobDataContributor = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
    private const string BlobDataReader = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1";
    private const string QueueDataContributor = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
    private const string QueueDataMessageSender = "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a";
    private const string AcrPull = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
    private const string MonitoringMetricsPublisher = "3913510d-42f4-4e42-8a64-420c390055eb";

    /// <summary>
    /// Every role assignment the deployment makes: who, which role, on what. Nothing more, nothing less. Containers and
    /// queues are in the pipeline account unless prefixed with the host account (functions-host/, serving-host/).
    /// </summary>
    private static readonly Grant[] Intended =
    [
        new("functions", BlobDataReader, "container:raw"),
        new("functions", BlobDataContributor, "container:datasets"),
        new("serving", BlobDataReader, "container:models"),
        new("serving", BlobDataReader, "container:runs"),
        new("serving", BlobDataReader, "container:datasets"),
        new("serving", BlobDataContributor, "container:models"),
        new("serving", BlobDataContributor, "serving-host/container:app-package"),
        new("serving", BlobDataOwner, "serving-host/container:azure-webjobs-hosts"),
        new("serving", BlobDataOwner, "serving-host/container:azure-webjobs-secrets"),
        new("serving", MonitoringMetricsPublisher, "appinsights"),
        new("serving", BlobDataContributor, "container:monitoring"),
        new("serving", BlobDataReader, "container:predictions"),
        new("functions", BlobDataContributor, "functions-host/container:app-package"),
        new("functions", BlobDataOwner, "functions-host/container:azure-webjobs-hosts"),
        new("functions", BlobDataOwner, "functions-host/container:azure-webjobs-secrets"),
        new("functions", QueueDataContributor, "queue:blob-created"),
        new("functions", QueueDataMessageSender, "queue:blob-created-poison"),
        new("functions", QueueDataMessageSender, "queue:train-requests"),
        new("functions", MonitoringMetricsPublisher, "appinsights"),
        new("functions", BlobDataReader, "container:score"),
        new("functions", BlobDataReader, "container:models"),
        new("functions", BlobDataContributor, "container:predictions"),
        new("functions", QueueDataContributor, "queue:score-requests"),
        new("functions", QueueDataMessageSender, "queue:score-requests-poison"),
        new("trainer", BlobDataReader, "container:datasets"),
        new("trainer", BlobDataContributor, "container:models"),
        new("trainer", BlobDataContributor, "container:runs"),
        new("trainer", QueueDataContributor, "queue:train-requests"),
        new("trainer", QueueDataMessageSender, "queue:train-requests-poison"),
        new("trainer", AcrPull, "registry"),
        new("trainer", MonitoringMetricsPublisher, "appinsights"),
        new("functions", QueueDataMessageSender, "queue:score-jobs"),
        new("scorer", BlobDataReader, "container:score"),
        new("scorer", BlobDataReader, "container:models"),
        new("scorer", BlobDataContributor, "container:predictions"),
        new("scorer", QueueDataContributor, "queue:score-jobs"),
        new("scorer", QueueDataMessageSender, "queue:score-jobs-poison"),
        new("scorer", AcrPull, "registry"),
        new("scorer", MonitoringMetricsPublisher, "appinsights"),
        new("eventgrid", QueueDataMessageSender, "queue:blob-created"),
        new("eventgrid", BlobDataContributor, "container:eventgrid-deadletter"),
        new("deployer", BlobDataContributor, "container:raw"),
        new("deployer", BlobDataReader, "container:models"),
        new("deployer", BlobDataContributor, "container:eventgrid-deadletter"),
        new("deployer", QueueDataMessageSender, "queue:blob-created"),
        new("deployer", BlobDataReader, "container:datasets"),
        new("deployer", BlobDataReader, "container:runs"),
        new("eventgrid", QueueDataMessageSender, "queue:score-requests"),
        new("deployer", BlobDataContributor, "container:score"),
        new("deployer", BlobDataReader, "container:predictions"),
        new("functions", BlobDataContributor, "container:monitoring"),
        new("functions", QueueDataContributor, "queue:drift-requests"),
        new("functions", QueueDataMessageSender, "queue:drift-requests-poison"),
        new("deployer", QueueDataMessageSender, "queue:drift-requests"),
        new("deployer", BlobDataReader, "container:monitoring"),
        new("functions", BlobDataReader, "container:outcomes"),
        new("deployer", BlobDataContributor, "container:outcomes"),
    ];

    private IEnumerable<TemplateResource> Assignments => template.OfType("Microsoft.Authorization/roleAssignments");

    [Fact]
    public void RoleAssignments_All_AreTheIntendedRoleAtTheIntendedScope()
    {
        var actual = Assignments.Select(Describe).OrderBy(grant => grant.ToString(), StringComparer.Ordinal).ToList();
        var intended = Intended.OrderBy(grant => grant.ToString(), StringComparer.Ordinal).ToList();
        Assert.Equal(intended, actual);
    }

    [Fact]
    public void RoleAssignments_All_AreScopedBelowTheResourceGroup()
    {
        foreach (var assignment in Assignments)
        {
            Assert.True(assignment.Element.TryGetProperty("scope", out var scope), $"{assignment.Name} applies to the whole resource group.");
            Assert.DoesNotMatch(@"^\[resourceId\('Microsoft\.Storage/storageAccounts', [^,]+\)\]$", scope.GetString()!);
        }
    }

    [Fact]
    public void RoleAssignments_All_AreNamedFromScopePrincipalAndRole()
    {
        foreach (var assignment in Assignments)
        {
            var name = assignment.Element.StringAt("name");
            var scope = assignment.Element.StringAt("scope").TrimStart('[').TrimEnd(']');
            var principal = assignment.Properties.StringAt("principalId").TrimStart('[').TrimEnd(']');
            Assert.StartsWith($"[guid({scope}, {principal}, ", name, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void RoleAssignments_ForManagedIdentities_DeclareServicePrincipalType()
    {
        foreach (var assignment in Assignments.Where(assignment => Describe(assignment).Principal != "deployer"))
        {
            Assert.Equal("ServicePrincipal", assignment.Properties.StringAt("principalType"));
        }
    }

    [Fact]
    public void RoleAssignments_ForTheDeployer_AreSkippedWithoutAPrincipalId()
    {
        foreach (var assignment in Assignments.Where(assignment => Describe(assignment).Principal == "deployer"))
        {
            Assert.Equal("[not(empty(parameters('deployerPrincipalId')))]", assignment.Element.StringAt("condition"));
        }
    }

    [Fact]
    public void ServingModelsContributor_IsConditionedToCurrentPointerWritesWithoutDeletes()
    {
        var writer = Assert.Single(Assignments, a => Describe(a) == new Grant("serving", BlobDataContributor, "container:models"));
        var condition = writer.Template.StringAt("variables", "currentPointerWritesOnly");

        Assert.Equal("2.0", writer.Properties.StringAt("conditionVersion"));
        Assert.Equal("[variables('currentPointerWritesOnly')]", writer.Properties.StringAt("condition"));
        Assert.Contains("!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'})", condition, StringComparison.Ordinal);
        Assert.Contains("!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'})", condition, StringComparison.Ordinal);
        Assert.Contains("!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'})", condition, StringComparison.Ordinal);
        Assert.Contains("@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringLike '*/current.json'", condition, StringComparison.Ordinal);
    }

    private Grant Describe(TemplateResource assignment)
    {
        var principalExpression = assignment.Properties.StringAt("principalId");
        var principal = assignment.Resolve(principalExpression) switch
        {
            var value when value.ComesFromModule("functions-identity") => "functions",
            var value when value.ComesFromModule("serving-identity") => "serving",
            var value when value.ComesFromModule("trainer-identity") => "trainer",
            var value when value.ComesFromModule("scorer-identity") => "scorer",
            var value when value.ComesFromModule("eventgrid-identity") => "eventgrid",
            "[parameters('principalId')]" => "deployer",
            var value => $"unknown({value})",
        };

        return new Grant(principal, RoleGuid(assignment), ScopeOf(assignment));
    }

    /// <summary>Which storage module creates the account an assignment's scope names: "" for the pipeline's, else "functions-host/" or "serving-host/".</summary>
    private string AccountPrefix(TemplateResource assignment, string accountArgument)
    {
        var accountName = assignment.Resolve($"[{accountArgument}]");
        return accountName switch
        {
            _ when accountName == template.Module("storage").ParameterValue("name") => "",
            _ when accountName == template.Module("functions-host-storage").ParameterValue("name") => "functions-host/",
            _ when accountName == template.Module("serving-host-storage").ParameterValue("name") => "serving-host/",
            _ => $"unknown({accountName})/",
        };
    }

    private static string RoleGuid(TemplateResource assignment)
    {
        var roleDefinitionId = assignment.Properties.StringAt("roleDefinitionId");
        var viaVariable = RoleVariable().Match(roleDefinitionId);
        if (viaVariable.Success)
        {
            return assignment.Template.StringAt("variables", viaVariable.Groups[1].Value, viaVariable.Groups[2].Value);
        }

        var literal = RoleLiteral().Match(roleDefinitionId);
        Assert.True(literal.Success, $"Unrecognised roleDefinitionId {roleDefinitionId}.");
        return literal.Groups[1].Value;
    }

    private string ScopeOf(TemplateResource assignment)
    {
        var scope = assignment.Element.StringAt("scope");
        var match = ResourceIdExpression().Match(scope);
        Assert.True(match.Success, $"Unrecognised scope {scope}.");
        var type = match.Groups[1].Value;
        var arguments = match.Groups[2].Value.Split(", ");
        var lastArgument = arguments[^1];
        var name = lastArgument.StartsWith('\'')
            ? lastArgument.Trim('\'')
            : assignment.Resolve($"[{lastArgument}]");
        return type switch
        {
            "Microsoft.Storage/storageAccounts/blobServices/containers" => $"{AccountPrefix(assignment, arguments[0])}container:{name}",
            "Microsoft.Storage/storageAccounts/queueServices/queues" => $"{AccountPrefix(assignment, arguments[0])}queue:{name}",
            "Microsoft.ContainerRegistry/registries" => "registry",
            "Microsoft.Insights/components" => "appinsights",
            _ => $"other:{type}",
        };
    }

    private sealed record Grant(string Principal, string Role, string Scope);

    [GeneratedRegex(@"variables\('([^']+)'\)\.(\w+)")]
    private static partial Regex RoleVariable();

    [GeneratedRegex(@"'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'")]
    private static partial Regex RoleLiteral();

    [GeneratedRegex(@"^\[resourceId\('([^']+)', (.*)\)\]$")]
    private static partial Regex ResourceIdExpression();
}
