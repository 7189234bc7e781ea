namespace Pipeline.Infra.Tests;

public sealed class TrainingJobTests(CompiledTemplate template)
{
    private TemplateResource Job => template.SingleOf("Microsoft.App/jobs", "training");

    private TemplateResource Environment => template.SingleOf("Microsoft.App/managedEnvironments");

    private JsonElement ScaleRule => Assert.Single(Job.Properties.At("configuration", "eventTriggerConfig", "scale", "rules").EnumerateArray());

    [Fact]
    public void Environment_WorkloadProfiles_AreConsumptionAndOneServerlessGpu()
    {
        var profiles = Environment.Properties.At("workloadProfiles").EnumerateArray()
            .Select(profile => (Name: Environment.Resolve(profile.StringAt("name")), Type: Environment.Resolve(profile.StringAt("workloadProfileType"))))
            .ToList();

        Assert.Equal(2, profiles.Count);
        Assert.Contains(("Consumption", "Consumption"), profiles);
        var gpu = Assert.Single(profiles, profile => profile.Name != "Consumption");
        Assert.Equal("[parameters('gpuProfileType')]", gpu.Type);

        var parameter = template.RootParameter("gpuProfileType");
        Assert.Equal("Consumption-GPU-NC8as-T4", parameter.StringAt("defaultValue"));
        Assert.Equal(
            ["Consumption-GPU-NC8as-T4", "Consumption-GPU-NC24-A100"],
            parameter.At("allowedValues").EnumerateArray().Select(value => value.GetString()));
    }

    [Fact]
    public void Job_WorkloadProfile_IsTheGpuProfile()
    {
        var gpuProfile = Environment.Properties.At("workloadProfiles").EnumerateArray()
            .Single(profile => Environment.Resolve(profile.StringAt("workloadProfileType")) == "[parameters('gpuProfileType')]");
        Assert.Equal(Environment.Resolve(gpuProfile.StringAt("name")), Job.Resolve(Job.Properties.StringAt("workloadProfileName")));
        Assert.Contains("Microsoft.App/managedEnvironments", Job.Properties.StringAt("environmentId"), StringComparison.Ordinal);
    }

    [Fact]
    public void Job_Trigger_IsEventDrivenAndScalesFromZero()
    {
        var configuration = Job.Properties.At("configuration");
        Assert.Equal("Event", configuration.StringAt("triggerType"));
        Assert.Equal(0, configuration.At("eventTriggerConfig", "scale", "minExecutions").GetInt32());
    }

    [Fact]
    public void Job_ScaleRule_IsAzureQueueOnTrainRequests()
    {
        Assert.Equal("azure-queue", ScaleRule.StringAt("type"));
        Assert.Equal("train-requests", Job.Resolve(ScaleRule.StringAt("metadata", "queueName")));
        Assert.Equal("1", ScaleRule.StringAt("metadata", "queueLength"));
        Assert.False(string.IsNullOrEmpty(ScaleRule.StringAt("metadata", "accountName")));
    }

    [Fact]
    public void Job_ScaleRule_AuthenticatesWithTheTrainerIdentityNotASecret()
    {
        Assert.False(ScaleRule.TryGetProperty("auth", out _), "The scale rule must not use a secret.");
        Assert.False(ScaleRule.At("metadata").TryGetProperty("connectionFromEnv", out _));
        Assert.True(Job.Resolve(ScaleRule.StringAt("identity")).ComesFromModule("trainer-identity"));
        Assert.Equal("UserAssigned", Job.Element.StringAt("identity", "type"));
    }

    [Fact]
    public void Job_Registry_PullsWithTheTrainerIdentity()
    {
        var registry = Assert.Single(Job.Properties.At("configuration", "registries").EnumerateArray());
        Assert.True(Job.Resolve(registry.StringAt("identity")).ComesFromModule("trainer-identity"));
        Assert.True(Job.Resolve(registry.StringAt("server")).ComesFromModule("registry"));
    }

    [Fact]
    public void Job_Execution_SettingsComeFromBoundedParameters()
    {
        var configuration = Job.Properties.At("configuration");
        Assert.Equal("[parameters('parallelism')]", configuration.StringAt("eventTriggerConfig", "parallelism"));
        Assert.Equal("[parameters('maxExecutions')]", configuration.StringAt("eventTriggerConfig", "scale", "maxExecutions"));
        Assert.Equal("[parameters('replicaTimeoutSeconds')]", configuration.StringAt("replicaTimeout"));
        Assert.Equal("[parameters('replicaRetryLimit')]", configuration.StringAt("replicaRetryLimit"));

        Assert.True(template.RootParameter("trainingTimeoutSeconds").At("defaultValue").GetInt32() >= 3600, "Training needs hours, not minutes.");
        foreach (var name in (string[])["trainingParallelism", "trainingMaxExecutions", "trainingTimeoutSeconds", "trainingReplicaRetryLimit"])
        {
            var parameter = template.RootParameter(name);
            Assert.True(parameter.TryGetProperty("minValue", out _) && parameter.TryGetProperty("maxValue", out _), $"{name} is unbounded.");
        }
    }

    [Fact]
    public void Job_Container_ReadsStorageEndpointsAndClientId_AndRequiresTheGpu()
    {
        var container = Assert.Single(Job.Properties.At("template", "containers").EnumerateArray());
        var env = container.At("env").EnumerateArray().ToDictionary(item => item.StringAt("name"), item => item);
        Assert.Equal(["Storage__BlobServiceUri", "Storage__QueueServiceUri", "AZURE_CLIENT_ID", "APPLICATIONINSIGHTS_CONNECTION_STRING", "Trainer__Device"], env.Keys);
        // On a GPU profile a replica without a usable GPU fails instead of training on CPU (DeviceSelector).
        Assert.Equal("Cuda", env["Trainer__Device"].StringAt("value"));
        Assert.All(env.Values, item => Assert.False(item.TryGetProperty("secretRef", out _)));
        Assert.True(Job.Resolve(env["AZURE_CLIENT_ID"].StringAt("value")).ComesFromModule("trainer-identity"));
    }

    [Fact]
    public void Job_Tags_NameTheAzdServiceTrainer()
    {
        Assert.Contains("'azd-service-name'", Job.Element.StringAt("tags"), StringComparison.Ordinal);
        Assert.Equal("trainer", template.Module("training").ParameterValue("serviceName"));
    }
}
