#!/usr/bin/env nextflow
/*
 * seqgx: how well does a sequence-to-expression model predict each person's expression from their
 * own genome? Each process runs one `seqgx` subcommand; `seqgx run PARAMS` runs the same steps on one
 * machine.
 */
nextflow.enable.dsl = 2

include { PLAN         } from './modules/local/plan/main'
include { CHECK_INPUTS } from './modules/local/check_inputs/main'
include { GENES        } from './modules/local/genes/main'
include { PERSONALIZE  } from './modules/local/personalize/main'
include { PREDICT      } from './modules/local/predict/main'
include { ISM          } from './modules/local/ism/main'
include { STATS        } from './modules/local/stats/main'
include { STATS as ATTRIBUTION_STATS } from './modules/local/stats/main'
include { ATTRIBUTION_GENES } from './modules/local/attribution_genes/main'
include { MOTIFS       } from './modules/local/motifs/main'
include { REPORT       } from './modules/local/report/main'
include { MERGE        } from './modules/local/merge/main'
include { FETCH_MODEL  } from './modules/local/fetch_model/main'
include { EXPORT_ONNX  } from './modules/local/export_onnx/main'
include { validateSeqgxParams; checkAwsBatch; logLocalResourceCaps; optionalFile; indexOf; cohortVcfs; batchVcfContig; vcfFileOfContig;
          geneOf; byTissue; byBatch } from './subworkflows/local/utils_seqgx/main'

workflow {
    validateSeqgxParams(file("${projectDir}/nextflow_schema.json"), workflow)
    checkAwsBatch(workflow)
    logLocalResourceCaps(workflow)

    // The plan (seqgx plan, as `seqgx run` makes it): the tissues with their files and readouts, the
    // model steps' readout and backend flags, which weights ISM uses, whether EXPORT_ONNX and MOTIFS
    // run. Every decision that reads several parameters is made there, in Python, once.
    run_params = Channel.value(groovy.json.JsonOutput.toJson(params)).collectFile(name: 'params.json').first()
    PLAN(run_params, optionalFile(params.tissues), workflow.launchDir.toString())
    plan = PLAN.out.plan.map { new groovy.json.JsonSlurper().parse(it.toFile()) }

    fasta_path = file(params.fasta, checkIfExists: true)
    fasta      = Channel.value([fasta_path, indexOf(fasta_path, ['.fai'])])
    vcfs       = cohortVcfs(params.vcf.toString())   // [[vcf, index], ...]
    annotation = Channel.value(file(params.annotation, checkIfExists: true))
    // The tissues as [meta, expression, covariates or []]: the model steps run once for the union of
    // their readouts; STATS, MERGE and REPORT once per tissue.
    tissue_ch = plan.flatMap { p ->
        p.tissues.collect { t ->
            [[id: t.name, tissue: t.name, samplesheet: p.samplesheet, stats_args: t.stats_args],
             file(t.expression, checkIfExists: true), t.covariates ? file(t.covariates, checkIfExists: true) : []]
        }
    }
    expression = plan.map { p -> p.tissues.collect { file(it.expression) } }
    covariates = plan.map { p -> p.tissues.findAll { it.covariates }.collect { file(it.covariates) } }
    // CHECK_INPUTS names each tissue's staged files (with a samplesheet; --expression otherwise)
    tissue_args = plan.map { p ->
        !p.samplesheet ? '' : p.tissues.collect { t ->
            "--tissue ${t.name} ${file(t.expression).name}" + (t.covariates ? " ${file(t.covariates).name}" : '')
        }.join(' ')
    }
    finemapped = Channel.value(optionalFile(params.finemapped))
    sample_map = Channel.value(optionalFile(params.sample_map))
    gene_list  = Channel.value(optionalFile(params.gene_list))
    // hparams: JSON text travels in the plan's flags, a JSON file is staged.
    hparams    = Channel.value(params.hparams && !params.hparams.toString().trim().startsWith('{')
                               ? file(params.hparams, checkIfExists: true) : [])
    finetuned  = plan.map { p -> p.finetuned_weights.collect { file(it, checkIfExists: true) } }
    track_tsv  = Channel.value(optionalFile(params.track_names))
    predictdb  = Channel.value(optionalFile(params.predictdb))
    predict_args = plan.map { it.model_args['predict'] }
    ism_args     = plan.map { it.model_args['ism'] }
    motifs_args  = plan.map { it.model_args['motifs'] }

    // The model, once per run. A local or S3 file or folder is staged into each model task; a hub id is
    // downloaded once (FETCH_MODEL), never per task; 'oracle' and 'random' are names, no file.
    model_name = params.model.toString()
    model_versions = Channel.empty()
    if (model_name in ['oracle', 'random']) {
        model_staged = Channel.value([])
    } else if (file(model_name).exists()) {
        model_staged = Channel.value(file(model_name))
    } else if (model_name ==~ /[\w.-]+\/[\w.-]+/ && !(model_name ==~ /.*\.(onnx|pt|pth|safetensors|bin)$/)) {
        FETCH_MODEL(model_name)
        model_staged = FETCH_MODEL.out.model
        model_versions = FETCH_MODEL.out.versions
    } else {
        error("--model '${model_name}': no such file or folder (and not a hub id, owner/name); check the path")
    }
    // PREDICT: the plan's export_onnx (backend 'onnx' with torch weights) exports them once
    // (EXPORT_ONNX, parity-checked). ISM and MOTIFS: the plan's ism_model says which weights.
    EXPORT_ONNX(model_staged, hparams, track_tsv, plan.filter { it.export_onnx }.map { it.model_args['export-onnx'] })
    model_versions = model_versions.mix(EXPORT_ONNX.out.versions)
    predict_model = EXPORT_ONNX.out.onnx
        .mix(model_staged.map { [it] }.combine(plan).filter { _m, p -> !p.export_onnx }.map { m, _p -> m })
        .first()
    plan.subscribe { p ->
        if (p.ism_onnx) {
            log.warn "ISM of the ONNX model '${model_name}' recomputes the whole model for every SNV; " +
                     "give its torch weights as --ism_model for the fast exact path"
        }
    }
    ism_weights = Channel.value(optionalFile(params.ism_model))
    ism_model = model_staged.map { [it] }.combine(ism_weights.map { [it] }).combine(plan)
        .map { m, i, p -> p.ism_model == 'ism_model' ? i : m }
        .first()

    CHECK_INPUTS(fasta, Channel.value(vcfs.collect { it[0] }), Channel.value(vcfs.collect { it[1] }),
                 annotation, expression, sample_map, gene_list, covariates, tissue_args)
    GENES(annotation, expression, gene_list, CHECK_INPUTS.out.contigs)

    // Each batch holds one chromosome's genes: its task stages only that chromosome's VCF (any file
    // when the chromosome has no VCF records: personalize then finds no variants).
    vcf_by_name = vcfs.collectEntries { [(it[0].name): it] }
    batches = GENES.out.batches.flatten()
        .combine(CHECK_INPUTS.out.vcfs)
        .map { batch, vcf_table ->
            def (vcf, index) = vcf_by_name[vcfFileOfContig(vcf_table)[batchVcfContig(batch)] ?: vcfs[0][0].name]
            [batch.baseName, batch, vcf, index]
        }
    PERSONALIZE(batches, fasta, CHECK_INPUTS.out.samples)
    PREDICT(PERSONALIZE.out.haplotypes, predict_model, hparams, finetuned, track_tsv, predict_args)

    // Phase 1, every gene: one STATS task per batch with its haplotypes and predictions, joined on the
    // batch id, for the statistics that need no attribution (R, null, baselines); the batch's VCF only
    // when the PrediXcan baseline reads genotypes from it.
    batch_vcf = params.predictdb ? batches.map { id, _batch, vcf, index -> [id, vcf, index] }
                                 : batches.map { id, _batch, _vcf, _index -> [id, [], []] }
    // A batch of a tissue: meta.id names its tables (<tissue>.<batch> with a samplesheet, where every
    // tissue's tables of a batch meet in one task), meta.batch and meta.tissue say what they are.
    // meta.publish_dir: where the task publishes its tables (stats/<tissue> with a samplesheet).
    batchOfTissue = { String root -> { id, haplotypes, predictions, ism, vcf, index, tissue, tissue_expression, tissue_covariates ->
        [tissue + [id: tissue.samplesheet ? "${tissue.tissue}.${id}" : id, batch: id,
                   publish_dir: tissue.samplesheet ? "${root}/${tissue.tissue}" : root],
         haplotypes, predictions, ism, vcf, index, tissue_expression, tissue_covariates]
    } }
    per_batch = PERSONALIZE.out.haplotypes
        .join(PREDICT.out.predictions)
        .map { id, haplotypes, predictions -> [id, haplotypes, predictions, []] }
        .join(batch_vcf)
    STATS(per_batch.combine(tissue_ch).map(batchOfTissue.call('stats')), predictdb, finemapped)
    // Sorted by file name (the batch), so collected inputs, and so the tables, come in the same order in
    // every run, and -resume finds them unchanged and reuses the task.
    def by_name = { a, b -> a.name <=> b.name }
    attribution_list = params.attribution_genes in ['significant', 'all'] ? []
                     : file(params.attribution_genes, checkIfExists: true)
    ATTRIBUTION_GENES(STATS.out.genes.map { _meta, f -> f }.collect(sort: by_name),
                      STATS.out.drivers.map { _meta, f -> f }.collect(sort: by_name),
                      GENES.out.genes, attribution_list, params.attribution_genes)

    // Phase 2, the selected genes re-batched per chromosome: ISM and the statistics that use it. Each
    // gene's files are found by its id and sorted by name, so -resume reruns only the batches whose
    // genes changed.
    attribution_batches = ATTRIBUTION_GENES.out.batches.flatten()
    batch_of_gene = attribution_batches.flatMap { batch ->
        batch.splitCsv(header: true, sep: '\t').collect { row -> [row.gene_id, batch.baseName] }
    }
    haplotypes_of_gene = PERSONALIZE.out.haplotypes
        .flatMap { _id, files -> [files].flatten().collect { f -> [geneOf(f), f] } }
    predictions_of_gene = PREDICT.out.predictions
        .flatMap { _id, files -> [files].flatten().collect { f -> [geneOf(f), f] } }
        .groupTuple()
    attribution_haplotypes = batch_of_gene.join(haplotypes_of_gene)
        .map { _gene, batch, file -> [batch, file] }
        .groupTuple()
        .map { batch, files -> [batch, files.sort { it.name }] }
    attribution_predictions = batch_of_gene.join(predictions_of_gene)
        .map { _gene, batch, files -> [batch, files] }
        .groupTuple()
        .map { batch, files -> [batch, files.flatten().sort { it.name }] }
    ISM(attribution_haplotypes, ism_model, hparams, finetuned, track_tsv, ism_args)
    attribution_vcf = params.predictdb
        ? attribution_batches.combine(CHECK_INPUTS.out.vcfs).map { batch, vcf_table ->
            def (vcf, index) = vcf_by_name[vcfFileOfContig(vcf_table)[batchVcfContig(batch)] ?: vcfs[0][0].name]
            [batch.baseName, vcf, index]
        }
        : attribution_batches.map { batch -> [batch.baseName, [], []] }
    ATTRIBUTION_STATS(
        attribution_haplotypes.join(attribution_predictions).join(ISM.out.ism).join(attribution_vcf)
            .combine(tissue_ch).map(batchOfTissue.call('attribution/stats')),
        predictdb, finemapped)

    // Motifs around the selected genes' drivers, when the plan says so (asked for, and tss_window > 0
    // for the TSS saturation ISM the gene's scale needs).
    motif_inputs = attribution_haplotypes
        .join(ISM.out.ism.join(ISM.out.saturation_of_batch)
            .map { batch, tables, sat -> [batch, [tables, sat].flatten()] })
        // every tissue's drivers of the batch: a driver shared by tissues is analysed once
        .join(byBatch(ATTRIBUTION_STATS.out.drivers))
        .join(byBatch(ATTRIBUTION_STATS.out.genes))
        .combine(plan.filter { it.motifs }.map { true })
        .map { row -> row[0..-2] }
    MOTIFS(motif_inputs, ism_model, hparams, finetuned, track_tsv, motifs_args)
    motif_tables = MOTIFS.out.driver_motifs.mix(MOTIFS.out.tables.flatten())
    motif_info = MOTIFS.out.info
    motif_versions = MOTIFS.out.versions.first()

    // The model steps' per-gene cost (calls, sequences, forward-equivalents), summed by MERGE.
    cost_files = PREDICT.out.predictions
        .flatMap { _id, files -> [files].flatten().findAll { it.name.endsWith('.reference.json') } }
        .mix(ISM.out.info.flatten(), motif_info)
    // Per tissue: its phase-1 tables and its phase-2 tables (none when no gene was selected).
    merge_tables = byTissue(STATS.out.genes).join(byTissue(STATS.out.drivers))
        .join(byTissue(ATTRIBUTION_STATS.out.genes).join(byTissue(ATTRIBUTION_STATS.out.drivers)), remainder: true)
        .map { row -> [row[0], row[1], row[2], row[3] ?: [], row.size() > 4 ? row[4] ?: [] : []] }
    MERGE(merge_tables, ATTRIBUTION_GENES.out.selection, cost_files.collect(sort: by_name).ifEmpty([]),
          motif_tables.collect(sort: by_name).ifEmpty([]), GENES.out.genes, finemapped)

    // The report: the merged tables, the gene pages' compact data, the selected genes' attribution files.
    report_tables = MERGE.out.tables.map { tissue, files -> [tissue, files.sort { it.name }] }
        .join(byTissue(STATS.out.genedata))
        .join(byTissue(ATTRIBUTION_STATS.out.genedata), remainder: true)
        .map { row -> [row[0], row[1], row[2], row[3] ?: []] }
    REPORT(report_tables,
           ISM.out.saturation.mix(ISM.out.gradients).flatten().collect(sort: by_name).ifEmpty([]),
           CHECK_INPUTS.out.summary, run_params)

    PLAN.out.versions
        .mix(CHECK_INPUTS.out.versions, model_versions, GENES.out.versions, PERSONALIZE.out.versions.first(), PREDICT.out.versions.first(),
             STATS.out.versions.first(), ATTRIBUTION_GENES.out.versions, ISM.out.versions.first(),
             ATTRIBUTION_STATS.out.versions.first(), motif_versions, MERGE.out.versions, REPORT.out.versions)
        .unique()
        .collectFile(name: 'versions.yml', storeDir: "${params.outdir}/pipeline_info", sort: { it.text })
}
